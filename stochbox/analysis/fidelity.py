"""Program fidelity: does the code a tool-mode agent ran actually sample the right law?

An agent can fail KS@N in tool mode because its *program* is wrong, or with a
right program because it answered something else / too few samples. To tell
them apart, the program is re-run ``m`` times (default 1,000) in the sandbox
and *its* output is tested against the reference like an agent's answers.

Contract of :func:`program_fidelity`:

* The program of an episode is the last code it ran (``EpisodeRecord.tool_code[-1]``):
  the code whose output the agent answered from. Episodes without code are
  skipped (``no_code``). Identical programs are run once and shared by every
  episode that ran them; at most ``max_programs`` distinct programs per
  (model, scenario) are run, in episode order.
* One sandbox execution per program runs it as a fresh ``__main__`` up to
  ``m`` times (random state continuing, seeded by
  ``derive_seed(run seed, "fidelity", scenario, sha256 of the code)``) and
  parses each run's printed output with the agents' answer parser, until
  ``m`` samples are collected. A program that prints nothing parseable is
  ``not_sampler``; one that raises or yields fewer than ``m`` valid samples
  fails (fewer than N valid samples, as for a model).
* The verdict uses the same tests and preset as the report, at N = ``m``.
  Deterministic for a given run, sandbox runtime, ``m`` and preset.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable

from pydantic import BaseModel, Field

from stochbox.agents.parsing import parse_answer
from stochbox.conditions import split_arm_mode
from stochbox.evaluators.dispatch import evaluate_scenario
from stochbox.evaluators.intervals import wilson_interval
from stochbox.evaluators.models import Preset, ScenarioTestResult
from stochbox.analysis.runs import RunData
from stochbox.sandbox.base import TRUTH_OUTPUT_CAP, Sandbox
from stochbox.scenarios.models import Scenario
from stochbox.seeding import derive_seed
from stochbox.reference.truth import repeat_program

DEFAULT_M = 1000
DEFAULT_MAX_PROGRAMS = 20
_OUTPUT_TAIL = 4000  # characters of each run's stdout kept for parsing

class ProgramFidelity(BaseModel):
    scenario: str
    model: str
    program_sha: str
    episodes: int  # episodes whose last program this is
    runs: int
    samples: int
    sampler: bool  # printed parseable samples
    result: ScenarioTestResult | None = None
    error: str | None = None


class ScenarioFidelity(BaseModel):
    scenario: str
    model: str
    agent_passed: bool | None  # the tool-mode verdict on the agent's own N answers
    episodes: int
    no_code: int
    not_sampler: int
    unchecked: int  # episodes whose program was beyond max_programs
    checked: int  # episodes whose program ran and sampled
    program_passed: int  # of those, episodes whose program passes
    fidelity: float | None  # program_passed / checked


class FidelityReport(BaseModel):
    m: int
    preset: str
    alpha: float
    scenarios: list[ScenarioFidelity]
    programs: list[ProgramFidelity]
    checked: int
    program_passed: int
    fidelity: float | None
    ci_low: float | None
    ci_high: float | None
    # scenario-level cross-tab: agent's answers vs its program (majority of checked episodes)
    crosstab: dict[str, int] = Field(default_factory=dict)


def _program_samples(code: str, scenario: Scenario, m: int, per_run: int, seed: int, sandbox: Sandbox, timeout_s: float):
    harness, globals_ = repeat_program(code, m, tolerant=True, tail=_OUTPUT_TAIL, filename="<agent_program>")
    res = sandbox.execute(harness, timeout_s=timeout_s, seed=seed, output_cap=TRUTH_OUTPUT_CAP, globals_=globals_)
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    if not res.ok or not lines:
        why = res.sandbox_error or ("timed out" if res.timed_out else (res.stderr or "").strip()[-300:] or "no output")
        return [], 0, f"program harness failed: {why}"
    try:
        body = json.loads(lines[-1])
    except json.JSONDecodeError:
        return [], 0, "program harness output unreadable"
    samples: list = []
    for out in body["outputs"]:
        samples.extend(parse_answer(out, scenario.answer_format, per_run).samples)
        if len(samples) >= m:
            break
    error = f"{body['errors']} run(s) raised: {body['first_error']}" if body["errors"] else None
    return samples[:m], len(body["outputs"]) + body["errors"], error


def program_fidelity(
    run: RunData,
    sandbox: Sandbox,
    preset: Preset,
    *,
    m: int = DEFAULT_M,
    max_programs: int = DEFAULT_MAX_PROGRAMS,
    timeout_s: float = 600.0,
    progress: Callable[[ProgramFidelity], None] | None = None,
) -> FidelityReport:
    if m < 1:
        raise ValueError("m must be >= 1")
    per_run = run.config.samples_per_episode
    scenarios: list[ScenarioFidelity] = []
    programs: list[ProgramFidelity] = []
    for model, mode in run.arms:
        if split_arm_mode(mode)[0] != "tool":
            continue
        verdicts = {r.scenario: r.passed for r in run.evaluate((model, mode), preset)}
        for sc in run.scenarios:
            recs = sorted(run.records.get((model, mode), {}).get(sc.id, []), key=lambda r: r.index)
            by_code: dict[str, list[int]] = defaultdict(list)
            codes: dict[str, str] = {}
            no_code = 0
            for rec in recs:
                if not rec.tool_code:
                    no_code += 1
                    continue
                sha = hashlib.sha256(rec.tool_code[-1].encode()).hexdigest()
                codes.setdefault(sha, rec.tool_code[-1])
                by_code[sha].append(rec.index)
            checked = passed = not_sampler = unchecked = 0
            for rank, (sha, episodes) in enumerate(by_code.items()):
                if rank >= max_programs:
                    unchecked += len(episodes)
                    continue
                seed = derive_seed(run.info.seed, "fidelity", sc.id, sha)
                samples, runs, error = _program_samples(codes[sha], sc, m, per_run, seed, sandbox, timeout_s)
                prog = ProgramFidelity(
                    scenario=sc.id, model=model, program_sha=sha[:16], episodes=len(episodes),
                    runs=runs, samples=len(samples), sampler=bool(samples), error=error,
                )
                if samples:
                    slots = samples + [None] * (m - len(samples))
                    prog.result = evaluate_scenario(
                        sc, slots, run.references[sc.id], model=f"{model} (program)", mode=mode, preset=preset
                    )
                    checked += len(episodes)
                    passed += len(episodes) if prog.result.passed else 0
                else:
                    not_sampler += len(episodes)
                programs.append(prog)
                if progress is not None:
                    progress(prog)
            scenarios.append(
                ScenarioFidelity(
                    scenario=sc.id, model=model, agent_passed=verdicts.get(sc.id), episodes=len(recs),
                    no_code=no_code, not_sampler=not_sampler, unchecked=unchecked, checked=checked,
                    program_passed=passed, fidelity=passed / checked if checked else None,
                )
            )
    total_checked = sum(s.checked for s in scenarios)
    total_passed = sum(s.program_passed for s in scenarios)
    low, high = wilson_interval(total_passed, total_checked) if total_checked else (None, None)
    crosstab: dict[str, int] = defaultdict(int)
    for s in scenarios:
        if s.fidelity is None:
            crosstab["program not checked"] += 1
            continue
        agent = "agent pass" if s.agent_passed else "agent fail"
        prog = "program pass" if s.fidelity > 0.5 else "program fail"
        crosstab[f"{agent} / {prog}"] += 1
    return FidelityReport(
        m=m, preset=preset.name, alpha=preset.alpha, scenarios=scenarios, programs=programs,
        checked=total_checked, program_passed=total_passed,
        fidelity=total_passed / total_checked if total_checked else None, ci_low=low, ci_high=high,
        crosstab=dict(sorted(crosstab.items())),
    )
