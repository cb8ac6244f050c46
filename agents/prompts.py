"""System and user prompts for native and tool-assisted episodes, rendered from prompt templates.

The words are data (:mod:`stochbox.conditions.templates`: the built-in defaults,
a ``--prompts`` file, a condition's or a pack's templates); this module fills
in what the code knows (the answer format, the limits, the tools) and
:func:`templates_for` picks an episode's templates.

Contract: the default prompts describe the tools *exactly* as :mod:`stochbox.agents.tools`
implements them (fresh process per call, nothing persists, what is
installed, the limits of this episode, the seed policy) and say how to
submit. They never mention the reference samples or the ground-truth program.
"""

from __future__ import annotations

import json

from stochbox.agents.base import AgentLimits, EpisodeContext
from stochbox.conditions.templates import PromptTemplates, default_templates
from stochbox.scenarios.models import AnswerFormat, AnswerType, Scenario

ANSWER_MARKER = "ANSWER:"


def describe_sample(fmt: AnswerFormat) -> str:
    """How one sample is written, in words."""
    t = fmt.type
    if t is AnswerType.number:
        return "one real number"
    if t is AnswerType.integer:
        return "one integer"
    if t is AnswerType.label:
        return "exactly one of the labels " + ", ".join(json.dumps(lab) for lab in fmt.labels or [])
    if t is AnswerType.vector:
        kind = "integers" if fmt.element == "integer" else "numbers"
        return f"a JSON list of {fmt.dim} {kind}"
    return "a JSON list ordering exactly the items " + json.dumps(fmt.items)


def example_sample(fmt: AnswerFormat) -> str:
    t = fmt.type
    if t is AnswerType.number:
        return "0.5"
    if t is AnswerType.integer:
        return "3"
    if t is AnswerType.label:
        return json.dumps((fmt.labels or ["x"])[0])
    if t is AnswerType.vector:
        return json.dumps([1 if fmt.element == "integer" else 0.5] * (fmt.dim or 1))
    return json.dumps(fmt.items)


def describe_answer(fmt: AnswerFormat, n: int) -> str:
    if n == 1:
        return describe_sample(fmt)
    return f"a JSON list of {n} independent samples, each {describe_sample(fmt)}"


def templates_for(ctx: EpisodeContext) -> PromptTemplates:
    """The templates of an episode: its condition's, else its scenario pack's, else the built-in defaults
    (as the run recorded them in run.json)."""
    condition = ctx.condition
    if condition is not None and condition.prompts is not None:
        return condition.prompts
    if ctx.scenario.prompts is not None:
        return ctx.scenario.prompts
    return condition.fallback_prompts if condition is not None else default_templates()


def native_system(scenario: Scenario, n: int, *, structured: bool, templates: PromptTemplates | None = None) -> str:
    t = templates or default_templates()
    fmt = scenario.answer_format
    key = "samples" if n > 1 else "answer"
    answer = describe_answer(fmt, n)
    fields = {"key": key, "answer": answer, "n": n, "marker": ANSWER_MARKER, "example": _example(fmt, n)}
    how = t.render("native_answer_json" if structured else "native_answer_text", **fields)
    return t.render("native_system", per_sample=" per requested sample" if n > 1 else "", answer_instructions=how, **fields)


def user_prompt(scenario: Scenario, n: int, templates: PromptTemplates | None = None) -> str:
    t = templates or default_templates()
    text = scenario.prompt.strip()
    if n > 1:
        return t.render("user_batch", prompt=text, n=n, answer=describe_answer(scenario.answer_format, n))
    return t.render("user", prompt=text)


def _sandbox_facts(limits: AgentLimits, output_cap: int, t: PromptTemplates) -> str:
    return t.render(
        "sandbox_facts",
        exec_timeout_s=f"{limits.exec_timeout_s:g}",
        output_cap=output_cap,
        max_tool_calls=limits.max_tool_calls,
        max_model_calls=limits.max_model_calls,
    )


def tool_system(
    scenario: Scenario, n: int, limits: AgentLimits, tool_lines: list[str], *, output_cap: int, templates: PromptTemplates | None = None
) -> str:
    t = templates or default_templates()
    return t.render(
        "tool_system",
        sandbox_facts=_sandbox_facts(limits, output_cap, t),
        tool_lines="\n".join(tool_lines),
        key="samples" if n > 1 else "answer",
        answer=describe_answer(scenario.answer_format, n),
        n=n,
    )


def _example(fmt: AnswerFormat, n: int) -> str:
    return example_sample(fmt) if n == 1 else json.dumps([json.loads(example_sample(fmt))] * min(n, 2))


def code_system(
    scenario: Scenario,
    n: int,
    limits: AgentLimits,
    function_lines: list[str],
    *,
    output_cap: int,
    templates: PromptTemplates | None = None,
) -> str:
    t = templates or default_templates()
    functions = ""
    if function_lines:
        functions = "\nThese functions are predefined in every code block:\n" + "\n".join(function_lines) + "\n"
    fmt = scenario.answer_format
    return t.render(
        "code_system",
        sandbox_facts=_sandbox_facts(limits, output_cap, t),
        functions=functions,
        marker=ANSWER_MARKER,
        answer=describe_answer(fmt, n),
        example=_example(fmt, n),
        n=n,
    )


def last_turn(templates: PromptTemplates | None = None) -> str:
    return (templates or default_templates()).render("last_turn")


def submit_again(reason: str | None, templates: PromptTemplates | None = None) -> str:
    return (templates or default_templates()).render("submit_again", reason=reason)
