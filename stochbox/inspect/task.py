"""``stochbox/sampling``: a stochbox pack as an Inspect task.

``inspect eval stochbox/sampling -T pack=canonical -T n=20 --model <provider/model>``

Contract:

* Dataset: one Inspect sample per (scenario, episode index), id
  ``<scenario>/<index>``, in pack order; the prompts are stochbox's own
  (:mod:`stochbox.agents.prompts`, independent protocol: one sample per
  episode), and each sample carries the episode seed stochbox would use,
  ``derive_seed(seed, "episode", scenario, index)``.
* ``mode=native``: one generation, no tools. ``mode=tool``: the model gets
  ``python`` (runs in the ``stochbox`` sandbox, the k-th execution seeded
  with ``derive_seed(episode seed, "exec", k)`` as in a stochbox run) and
  ``submit``; it may call tools until it submits a usable answer, within
  ``max_model_calls`` and ``max_tool_calls`` (a reply without tool calls is
  parsed as the answer, as stochbox's function protocol does).
* Scoring: :func:`stochbox.inspect.scoring.sample_answer` parses each sample
  with stochbox's parser; the ``ks_at_n`` metric gathers each scenario's
  samples and applies stochbox's test for the preset (see that module).
* Use ``n``, not ``--epochs``: epochs would be reduced into one score per
  sample by Inspect and stop being independent draws.
"""

from __future__ import annotations

import math
from typing import Any

from inspect_ai import Epochs, Task, task
from inspect_ai.dataset import MemoryDataset, Sample
from inspect_ai.model import ChatMessageSystem, ChatMessageUser, execute_tools, get_model
from inspect_ai.solver import Generate, Solver, TaskState, generate, solver
from inspect_ai.tool import ToolDef, ToolError, ToolParams
from inspect_ai.util import registry_info, sandbox, store

from stochbox.agents.base import AgentLimits
from stochbox.agents.parsing import answer_json_schema, parse_answer, parse_value
from stochbox.agents.prompts import describe_answer, last_turn, native_system, submit_again, tool_system, user_prompt
from stochbox.agents.tools import PythonTool, format_exec_result
from stochbox.errors import ConfigError
from stochbox.evaluators import get_preset
from stochbox.inspect.sandbox_env import SEED_ENV, StochboxSandboxConfig
from stochbox.inspect.scoring import ANSWER_KEY, ks_at_n, sample_answer, scenario_index, scenario_pvalues
from stochbox.run.plan import episode_seed
from stochbox.sandbox.base import ExecResult as StochboxExecResult
from stochbox.scenarios import Scenario, resolve_packs, select_scenarios
from stochbox.seeding import derive_seed

MODES = ("native", "tool")
EXEC_COUNT_KEY = "stochbox:executions"


def _ids(scenarios: str | list[str] | None) -> list[str] | None:
    if scenarios is None or scenarios == "":
        return None
    if isinstance(scenarios, str):
        return [s.strip() for s in scenarios.split(",") if s.strip()]
    return [str(s) for s in scenarios]


def pack_scenarios(pack: str, scenarios: str | list[str] | None) -> list[Scenario]:
    packs = [p.strip() for p in pack.split(",") if p.strip()]
    return select_scenarios(resolve_packs(packs), _ids(scenarios))


def build_dataset(scenarios: list[Scenario], n: int, mode: str, seed: int, limits: AgentLimits) -> MemoryDataset:
    """One sample per (scenario, episode index) with stochbox's prompts for ``mode``."""
    tool_lines = [f"- {PythonTool.name}: {PythonTool.description}"]
    samples = []
    for sc in scenarios:
        if mode == "native":
            system = native_system(sc, 1, structured=False)
        else:
            system = tool_system(sc, 1, limits, tool_lines, output_cap=limits.tool_output_cap)
        for index in range(n):
            samples.append(
                Sample(
                    id=f"{sc.id}/{index}",
                    input=[ChatMessageSystem(content=system), ChatMessageUser(content=user_prompt(sc, 1))],
                    metadata={
                        "scenario": sc.id,
                        "index": index,
                        "episode_seed": episode_seed(seed, sc.id, index),
                        "mode": mode,
                        "support": sc.support.value,
                    },
                )
            )
    return MemoryDataset(samples, name=f"stochbox:{','.join(sorted({s.pack for s in scenarios}))}")


def python_tool(episode: int, limits: AgentLimits) -> ToolDef:
    """stochbox's ``python`` tool: fresh sandboxed process per call, seeded like a stochbox episode's executions."""
    timeout = max(1, math.ceil(limits.exec_timeout_s))

    async def execute(code: str) -> str:
        k = store().get(EXEC_COUNT_KEY, 0)
        if k >= limits.max_tool_calls:
            raise ToolError("tool call limit reached; call submit with your answer now.")
        store().set(EXEC_COUNT_KEY, k + 1)
        seed = derive_seed(episode, "exec", k)
        try:
            res = await sandbox().exec(["python3", "-c", code], env={SEED_ENV: str(seed)}, timeout=timeout)
        except TimeoutError:
            return format_exec_result(StochboxExecResult(timed_out=True, seed=seed), timeout_s=timeout)
        return format_exec_result(StochboxExecResult(stdout=res.stdout, stderr=res.stderr, exit_code=res.returncode, seed=seed))

    return ToolDef(
        execute,
        name=PythonTool.name,
        description=PythonTool.description,
        parameters={"code": "Python 3 source to run; print the values you need."},
    )


def submit_tool(sc: Scenario) -> ToolDef:
    """``submit``: the answer, checked with stochbox's parser; a usable one ends the episode."""
    fmt = sc.answer_format

    async def execute(answer: Any) -> str:
        parsed = parse_value({"answer": answer}, fmt, 1)
        if not parsed.samples:
            raise ToolError(submit_again(parsed.reason))
        store().set(ANSWER_KEY, {"sample": parsed.samples[0], "strategy": parsed.strategy, "source": "submit"})
        return "accepted"

    return ToolDef(
        execute,
        name="submit",
        description=f"Submit your final answer: {describe_answer(fmt, 1)}. Ends the conversation.",
        parameters=ToolParams.model_validate(answer_json_schema(fmt, 1)),
    )


@solver
def tool_episode(pack: str, max_model_calls: int, max_tool_calls: int, exec_timeout_s: float) -> Solver:
    """The tool-mode loop: generate, run tool calls, until ``submit`` takes an answer or a limit is reached."""
    limits = AgentLimits(max_model_calls=max_model_calls, max_tool_calls=max_tool_calls, exec_timeout_s=exec_timeout_s)

    async def solve(state: TaskState, generate: Generate) -> TaskState:
        sc = scenario_index(pack)[state.metadata["scenario"]]
        tools = [python_tool(state.metadata["episode_seed"], limits), submit_tool(sc)]
        model = get_model()
        for call in range(limits.max_model_calls):
            if call + 1 == limits.max_model_calls:
                state.messages.append(ChatMessageUser(content=last_turn()))
            state.output = await model.generate(state.messages, tools)
            state.messages.append(state.output.message)
            if state.output.message.tool_calls:
                result = await execute_tools(state.messages, tools, max_output=limits.tool_output_cap)
                state.messages.extend(result.messages)
                if store().get(ANSWER_KEY) is not None:
                    break
                continue
            parsed = parse_answer(state.output.completion, sc.answer_format, 1)
            if parsed.samples:
                break
            state.messages.append(ChatMessageUser(content=submit_again(parsed.reason)))
        return state

    return solve


def _sampling(
    pack: str = "canonical",
    n: int = 20,
    mode: str = "native",
    scenarios: str | list[str] | None = None,
    preset: str = "stochbox",
    alpha: float | None = None,
    seed: int = 0,
    backend: str = "auto",
    reference_n: int = 10_000,
    max_model_calls: int = 8,
    max_tool_calls: int = 6,
    exec_timeout_s: float = 10.0,
) -> Task:
    """KS@N of a model on stochbox scenarios, natively or with a sandboxed Python tool.

    Args:
        pack: Built-in pack name(s) or pack folder(s), comma-separated.
        n: Episodes (independent samples) per scenario: the N of KS@N.
        mode: ``native`` (one reply, no tools) or ``tool`` (python in the stochbox sandbox, then submit).
        scenarios: Scenario ids, comma-separated (default: the whole pack).
        preset: Pass rule: ``stochbox`` (support-aware tests) or ``unpredictabench`` (the paper's KS rule).
        alpha: Significance level (default: the preset's).
        seed: Run seed: episode seeds, execution seeds and the reference all derive from it.
        backend: stochbox sandbox backend for ground truth and the python tool: auto, local, docker.
        reference_n: Reference samples per scenario (from stochbox's truth cache; generated in the sandbox if missing).
        max_model_calls: Tool mode: replies per episode.
        max_tool_calls: Tool mode: python executions per episode.
        exec_timeout_s: Tool mode: time limit of one execution.
    """
    if mode not in MODES:
        raise ConfigError(f"-T mode={mode}: use native or tool")
    if n < 1:
        raise ConfigError(f"-T n={n}: N must be at least 1")
    chosen = pack_scenarios(pack, scenarios)
    rule = get_preset(preset, alpha)  # a bad preset or alpha fails here, before any model call
    limits = AgentLimits(max_model_calls=max_model_calls, max_tool_calls=max_tool_calls, exec_timeout_s=exec_timeout_s)
    ids = [sc.id for sc in chosen]
    metric_args = dict(
        pack=pack, scenarios=ids, n=n, preset=rule.name, alpha=rule.alpha, seed=seed, reference_n=reference_n, backend=backend
    )
    return Task(
        dataset=build_dataset(chosen, n, mode, seed, limits),
        solver=generate() if mode == "native" else tool_episode(pack, max_model_calls, max_tool_calls, exec_timeout_s),
        scorer=sample_answer(pack=pack),
        metrics=[ks_at_n(**metric_args), scenario_pvalues(**metric_args)],
        sandbox=("stochbox", StochboxSandboxConfig(backend=backend)) if mode == "tool" else None,  # type: ignore[arg-type]
        epochs=Epochs(1),
    )


def _register_namespaced(fn, name: str):
    """Register ``fn`` as the task ``stochbox/<name>``.

    Inspect prefixes the package itself when it recognises an installed one; in a source checkout,
    the ``stochbox.egg-info`` that an editable install leaves in the folder hides the install from
    that check, so the namespace is then given explicitly.
    """
    registered = task(name=name)(fn)
    if registry_info(registered).name != f"stochbox/{name}":
        registered = task(name=f"stochbox/{name}")(fn)
    return registered


sampling = _register_namespaced(_sampling, "sampling")
