"""KS@N: the share of scenarios that pass, with a confidence interval; and KS@N curves.

Contract:

* :func:`summarize` aggregates results of one (model, mode, N, preset);
  ``ks_at_n = passed / scenarios`` with a 95% **Wilson score** interval
  (``ci_low``, ``ci_high``). Given ``families`` (scenario id -> cluster, see
  :func:`.intervals.family_of`) it adds the family-clustered bootstrap
  interval (``cluster_ci_low``, ``cluster_ci_high``, ``clusters``), seeded by
  ``derive_seed("ks_at_n", model, mode, N, scenario ids)``. ``too_regular``
  counts results whose ``regularity`` flagged them (None when none was
  computed). ``mean_statistic`` is the mean KS distance
  (``effect["ks_distance"]``) over the scenarios that have one (1-D numeric
  and vector supports); None when none do.
* :func:`ksn_curve` evaluates every N in ``ns`` (default 10, 30, 100, 300,
  1000) on the *prefixes* of one run's episode-ordered samples, so a single
  run with the largest N gives the whole curve. N larger than the samples
  available is skipped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stochbox.evaluators.dispatch import evaluate_scenario
from stochbox.evaluators.intervals import cluster_bootstrap_interval, wilson_interval
from stochbox.evaluators.unpredictabench import slots_at_n
from stochbox.evaluators.models import KSAtNSummary, Preset, ScenarioTestResult
from stochbox.scenarios.models import Scenario
from stochbox.seeding import derive_seed

DEFAULT_CURVE_NS = (10, 30, 100, 300, 1000)


def summarize(
    results: list[ScenarioTestResult], *, parse_rate: float, families: Mapping[str, str] | None = None
) -> KSAtNSummary:
    if not results:
        raise ValueError("summarize needs at least one scenario result")
    keys = {(r.model, r.mode, r.n, r.preset, r.alpha) for r in results}
    if len(keys) != 1:
        raise ValueError(f"summarize takes results of one (model, mode, n, preset, alpha); got {sorted(keys)}")
    first = results[0]
    passed = sum(r.passed for r in results)
    low, high = wilson_interval(passed, len(results))
    ks_values = [r.effect["ks_distance"] for r in results if "ks_distance" in r.effect]
    clustered: dict[str, Any] = {}
    if families is not None:
        labels = [families.get(r.scenario, f"scenario:{r.scenario}") for r in results]
        seed = derive_seed("ks_at_n", first.model, first.mode, first.n, *(r.scenario for r in results))
        c_low, c_high = cluster_bootstrap_interval([float(r.passed) for r in results], labels, seed=seed)
        clustered = dict(clusters=len(set(labels)), cluster_ci_low=c_low, cluster_ci_high=c_high)
    checked = [r.regularity for r in results if r.regularity is not None]
    return KSAtNSummary(
        model=first.model,
        mode=first.mode,
        n=first.n,
        alpha=first.alpha,
        preset=first.preset,
        ks_at_n=passed / len(results),
        ci_low=low,
        ci_high=high,
        scenarios=len(results),
        passed=passed,
        parse_rate=parse_rate,
        mean_statistic=sum(ks_values) / len(ks_values) if ks_values else None,
        too_regular=sum(g.too_regular for g in checked) if checked else None,
        **clustered,
    )


def ksn_curve(
    scenarios: Sequence[Scenario],
    samples: Mapping[str, Sequence[Any | None]],
    references: Mapping[str, Sequence[Any]],
    *,
    model: str,
    mode: str,
    preset: Preset,
    ns: Sequence[int] = DEFAULT_CURVE_NS,
) -> list[tuple[KSAtNSummary, list[ScenarioTestResult]]]:
    """One summary (and its per-scenario results) per N in ``ns`` that every scenario has samples for.

    ``samples[scenario_id]`` is that scenario's full episode-ordered list
    (``None`` for missing); N uses its first N entries (its first N valid
    ones under the paper's current rule, see :func:`.unpredictabench.slots_at_n`).
    """
    available = min((len(samples.get(s.id, ())) for s in scenarios), default=0)
    out = []
    for n in sorted(set(ns)):
        if n > available:
            continue
        results = [
            evaluate_scenario(sc, slots_at_n(samples[sc.id], n, sc, preset), list(references[sc.id]), model=model, mode=mode, preset=preset)
            for sc in scenarios
        ]
        # n_valid counts samples that pass the answer format, not merely present ones
        out.append((summarize(results, parse_rate=sum(r.n_valid for r in results) / (n * len(scenarios))), results))
    return out
