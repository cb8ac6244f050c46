"""Scoring ``stochbox/sampling``: stochbox's parser per sample, stochbox's tests per scenario.

Contract:

* :func:`sample_answer` (a scorer) parses each Inspect sample's answer with
  stochbox's parser (the ``submit`` value in tool mode, else the final
  reply). Its value is 1 for a usable sample, 0 otherwise; ``answer`` is the
  sample as JSON; ``metadata`` holds ``scenario``, ``index`` and ``sample``
  (None when unusable).
* :func:`ks_at_n` (a metric) lays each scenario's samples out in episode
  order (N slots, None where a sample is missing, unusable or errored),
  takes the reference from stochbox's truth cache (the same key a
  ``stochbox run`` with this seed and ``reference_n`` uses; generated in the
  sandbox when missing), and applies :func:`stochbox.evaluators.evaluate_scenario`
  and :func:`stochbox.evaluators.summarize`: ``ks_at_n`` with its 95% Wilson
  interval (``ci_low``, ``ci_high``), ``passed``, ``scenarios`` and
  ``parse_rate``. :func:`scenario_pvalues` reports each scenario's p-value
  from the same evaluation (scenarios without any usable sample have none).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from inspect_ai.scorer import Metric, SampleScore, Score, Target, metric, scorer
from inspect_ai.solver import TaskState

from stochbox.agents.parsing import parse_answer
from stochbox.evaluators import evaluate_scenario, get_preset, summarize
from stochbox.evaluators.models import ScenarioTestResult
from stochbox.reference.cache import ReferenceCache
from stochbox.scenarios import Scenario, resolve_packs, select_scenarios

ANSWER_KEY = "stochbox:answer"


@functools.lru_cache(maxsize=16)
def scenario_index(pack: str) -> dict[str, Scenario]:
    """Every scenario of ``pack`` (comma-separated names or folders) by id."""
    names = [p.strip() for p in pack.split(",") if p.strip()]
    return {sc.id: sc for sc in select_scenarios(resolve_packs(names))}


@functools.lru_cache(maxsize=64)
def references(pack: str, ids: tuple[str, ...], seed: int, reference_n: int, backend: str) -> dict[str, list[Any]]:
    """Reference samples by scenario id from the truth cache; missing ones are generated in a ``backend`` sandbox."""
    index = scenario_index(pack)
    cache = ReferenceCache()
    out: dict[str, list[Any]] = {}
    missing = []
    for sid in ids:
        cached = cache.load(cache.ref(index[sid], reference_n, seed).key)
        if cached is None:
            missing.append(sid)
        else:
            out[sid] = cached
    if missing:
        from stochbox.sandbox import open_sandbox

        with open_sandbox(backend) as sb:
            for sid in missing:
                out[sid], _ = cache.get(index[sid], reference_n, seed, sb)
    return out


@scorer(metrics=[])
def sample_answer(pack: str = "canonical"):
    """The sample an episode gave, parsed by stochbox (value 1 when usable)."""

    async def score(state: TaskState, target: Target) -> Score:
        sc = scenario_index(pack)[state.metadata["scenario"]]
        submitted = state.store.get(ANSWER_KEY)
        if submitted is not None:
            sample, strategy, reason = submitted["sample"], submitted["strategy"], None
        else:
            parsed = parse_answer(state.output.completion, sc.answer_format, 1)
            sample = parsed.samples[0] if parsed.samples else None
            strategy, reason = parsed.strategy, parsed.reason
        return Score(
            value=1.0 if sample is not None else 0.0,
            answer=None if sample is None else json.dumps(sample),
            explanation=reason or f"parsed ({strategy})",
            metadata={"scenario": sc.id, "index": state.metadata["index"], "sample": sample},
        )

    return score


def slots(scores: list[SampleScore], ids: list[str], n: int) -> dict[str, list[Any]]:
    """Each scenario's N samples in episode order, None where missing."""
    out: dict[str, list[Any]] = {sid: [None] * n for sid in ids}
    for s in scores:
        meta = s.score.metadata or {}
        sid, index = meta.get("scenario"), meta.get("index")
        if sid in out and isinstance(index, int) and 0 <= index < n:
            out[sid][index] = meta.get("sample")
    return out


_LAST: dict[str, Any] = {}


def evaluate_scores(
    scores: list[SampleScore], *, pack: str, scenarios: list[str], n: int, preset: str, alpha: float,
    seed: int, reference_n: int, backend: str, model: str = "inspect",
) -> tuple[list[ScenarioTestResult], float]:
    """Per-scenario results and the parse rate (shared by both metrics: computed once per set of scores)."""
    layout = slots(scores, scenarios, n)
    key = json.dumps([pack, scenarios, n, preset, alpha, seed, reference_n, layout], default=str, sort_keys=True)
    if _LAST.get("key") == key:
        return _LAST["value"]
    index = scenario_index(pack)
    refs = references(pack, tuple(scenarios), seed, reference_n, backend)
    rule = get_preset(preset, alpha)
    results = [
        evaluate_scenario(index[sid], layout[sid], refs[sid], model=model, mode="inspect", preset=rule) for sid in scenarios
    ]
    valid = sum(x is not None for values in layout.values() for x in values)
    value = (results, valid / (n * len(scenarios)))
    _LAST.update(key=key, value=value)
    return value


@metric(name="ks_at_n")
def ks_at_n(
    pack: str, scenarios: list[str], n: int, preset: str, alpha: float, seed: int, reference_n: int, backend: str
) -> Metric:
    """KS@N over the task's scenarios, with stochbox's tests and its 95% Wilson interval."""

    def compute(scores: list[SampleScore]) -> dict[str, float]:
        results, parse_rate = evaluate_scores(
            scores, pack=pack, scenarios=scenarios, n=n, preset=preset, alpha=alpha, seed=seed,
            reference_n=reference_n, backend=backend,
        )
        summary = summarize(results, parse_rate=parse_rate)
        return {
            "ks_at_n": summary.ks_at_n,
            "ci_low": summary.ci_low,
            "ci_high": summary.ci_high,
            "passed": float(summary.passed),
            "scenarios": float(summary.scenarios),
            "parse_rate": summary.parse_rate,
        }

    return compute


@metric(name="pvalue")
def scenario_pvalues(
    pack: str, scenarios: list[str], n: int, preset: str, alpha: float, seed: int, reference_n: int, backend: str
) -> Metric:
    """Each scenario's p-value as ``p:<scenario id>`` (the test stochbox picks for its support)."""

    def compute(scores: list[SampleScore]) -> dict[str, float | None]:
        results, _ = evaluate_scores(
            scores, pack=pack, scenarios=scenarios, n=n, preset=preset, alpha=alpha, seed=seed,
            reference_n=reference_n, backend=backend,
        )
        return {f"p:{r.scenario}": r.pvalue for r in results}

    return compute
