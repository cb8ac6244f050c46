"""System and user prompts for native and tool-assisted episodes.

Contract: prompts describe the tools *exactly* as :mod:`stochbox.agents.tools`
implements them (fresh process per call, nothing persists, what is
installed, the limits of this episode, the seed policy) and say how to
submit. They never mention the reference samples or the ground-truth program.
"""

from __future__ import annotations

import json

from stochbox.agents.base import AgentLimits
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


NATIVE_SYSTEM = """You answer questions about random processes by producing a random outcome, \
as if you were the process itself. Do not describe the distribution and do not refuse: \
give one concrete outcome{plural}. {how}"""


def native_system(scenario: Scenario, n: int, *, structured: bool) -> str:
    fmt = scenario.answer_format
    if structured:
        key = "samples" if n > 1 else "answer"
        how = f'Reply with a JSON object {{"{key}": ...}} where the value is {describe_answer(fmt, n)}.'
    else:
        how = (
            f"Your reply must end with a line `{ANSWER_MARKER} <value>` where the value is "
            f"{describe_answer(fmt, n)}."
        )
    return NATIVE_SYSTEM.format(plural=" per requested sample" if n > 1 else "", how=how)


def user_prompt(scenario: Scenario, n: int) -> str:
    text = scenario.prompt.strip()
    if n > 1:
        text += (
            f"\n\nDo this {n} times independently and answer with {describe_answer(scenario.answer_format, n)}."
        )
    return text


def _sandbox_facts(limits: AgentLimits, output_cap: int) -> str:
    return (
        "Every execution runs in a fresh Python 3 process in an isolated sandbox: nothing persists "
        "between executions (no variables, imports or files), there is no network, and only the "
        "standard library, numpy and scipy are installed. "
        f"Each execution may run for at most {limits.exec_timeout_s:g} s; stdout and stderr are "
        f"each cut after {output_cap} bytes, so print only what you need. "
        "The harness seeds `random` and `numpy.random` (including `numpy.random.default_rng()` "
        "without arguments) with a fresh seed for every execution: do not set seeds yourself, "
        "a fixed seed would make every answer the same. "
        f"You may run code at most {limits.max_tool_calls} times and reply at most "
        f"{limits.max_model_calls} times in this conversation."
    )


TOOL_SYSTEM = """You answer questions about random processes by producing a random outcome. \
You have tools. {facts}

Tools:
{tool_lines}
- submit: ends the conversation with your answer. Call it exactly once, with `{key}` set to {answer}.

Work out how to simulate the process, run the simulation with the python tool, then call \
submit with the value it produced. Do not describe the distribution and do not refuse."""


def tool_system(scenario: Scenario, n: int, limits: AgentLimits, tool_lines: list[str], *, output_cap: int) -> str:
    return TOOL_SYSTEM.format(
        facts=_sandbox_facts(limits, output_cap),
        tool_lines="\n".join(tool_lines),
        key="samples" if n > 1 else "answer",
        answer=describe_answer(scenario.answer_format, n),
    )


CODE_SYSTEM = """You answer questions about random processes by producing a random outcome. \
You can run Python code: write it in a fenced block that starts with ```python and ends with ```; \
the harness runs it and replies with its output. {facts}
{functions}
When you have the result, reply WITHOUT a code block and end your reply with the line:
{marker} <value>
where the value is {answer}, for example `{marker} {example}`. \
Do not describe the distribution and do not refuse."""


def code_system(
    scenario: Scenario, n: int, limits: AgentLimits, function_lines: list[str], *, output_cap: int
) -> str:
    functions = ""
    if function_lines:
        functions = "\nThese functions are predefined in every code block:\n" + "\n".join(function_lines) + "\n"
    fmt = scenario.answer_format
    example = example_sample(fmt) if n == 1 else json.dumps([json.loads(example_sample(fmt))] * min(n, 2))
    return CODE_SYSTEM.format(
        facts=_sandbox_facts(limits, output_cap),
        functions=functions,
        marker=ANSWER_MARKER,
        answer=describe_answer(fmt, n),
        example=example,
    )


LAST_TURN = "This is your last reply: give your final answer now."
SUBMIT_AGAIN = "That answer could not be used ({reason}). Answer again in the required format."
