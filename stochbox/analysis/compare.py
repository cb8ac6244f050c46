"""Paired comparison of two arms (model x mode) over the same scenarios.

Contract of :func:`compare_results`:

* Scenarios are paired by id; only scenarios present in both arms count.
  Both arms must be evaluated at the same N and preset (callers evaluate
  prefixes at the smaller N when runs differ).
* ``mcnemar_pvalue``: McNemar's exact test -- a two-sided binomial test of
  the discordant pairs (``b`` = passes only in A, ``c`` = passes only in B)
  at p = 1/2 (``scipy.stats.binomtest``); 1.0 when there are none.
* ``diff = KS@N(B) - KS@N(A)`` with a 95% paired-bootstrap percentile
  interval: scenarios resampled with replacement, ``bootstrap`` times, seeded
  by ``derive_seed("compare", A, B, scenario ids)`` -- deterministic.
  Beside it, ``diff_cluster_ci_low``/``diff_cluster_ci_high``: the same
  difference with whole families (``family:`` tags; a scenario without one
  is its own cluster) resampled together (:func:`.intervals.cluster_bootstrap_interval`,
  seeded by ``derive_seed("compare-clusters", A, B, scenario ids)``); ``clusters`` counts them.
* Breakdowns by kind, support and tag repeat the counts, KS@N of each arm,
  the difference and McNemar's p within each group (no bootstrap there).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel
from scipy import stats

from stochbox.conditions import arm_mode
from stochbox.evaluators.groups import scenario_groups
from stochbox.evaluators.intervals import cluster_bootstrap_interval, family_of
from stochbox.evaluators.models import Preset, ScenarioTestResult
from stochbox.analysis.runs import ArmKey, RunData
from stochbox.scenarios.models import Scenario
from stochbox.seeding import derive_seed

DEFAULT_BOOTSTRAP = 9999


class PairedScenario(BaseModel):
    scenario: str
    kind: str
    support: str
    tags: list[str]
    a_passed: bool
    b_passed: bool
    a_pvalue: float | None
    b_pvalue: float | None
    a_statistic: float | None
    b_statistic: float | None
    a_n_valid: int
    b_n_valid: int
    test: str


class GroupComparison(BaseModel):
    group: str  # e.g. "kind:canonical", "support:discrete", "tag:family:normal"
    scenarios: int
    a_ks_at_n: float
    b_ks_at_n: float
    diff: float
    a_only: int
    b_only: int
    mcnemar_pvalue: float


class Comparison(BaseModel):
    a: str  # label, e.g. "baseline:oracle/native" or "run1:model/tool"
    b: str
    n: int
    preset: str
    alpha: float
    scenarios: int
    a_passed: int
    b_passed: int
    a_ks_at_n: float
    b_ks_at_n: float
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    bootstrap: int
    clusters: int | None = None  # families resampled by the clustered interval
    diff_cluster_ci_low: float | None = None
    diff_cluster_ci_high: float | None = None
    both_pass: int
    a_only: int
    b_only: int
    neither: int
    mcnemar_pvalue: float
    by_group: list[GroupComparison]
    pairs: list[PairedScenario]


def mcnemar_exact(a_only: int, b_only: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts."""
    if a_only + b_only == 0:
        return 1.0
    return float(stats.binomtest(a_only, a_only + b_only, 0.5).pvalue)


def paired_bootstrap_ci(
    a: np.ndarray, b: np.ndarray, *, draws: int, seed: int, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile interval of mean(b) - mean(a) with pairs resampled together."""
    rng = np.random.default_rng(seed)
    d = b.astype(np.float64) - a.astype(np.float64)
    idx = rng.integers(0, len(d), size=(draws, len(d)))
    means = d[idx].mean(axis=1)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)


def _group(name: str, rows: list[PairedScenario]) -> GroupComparison:
    a_only = sum(r.a_passed and not r.b_passed for r in rows)
    b_only = sum(r.b_passed and not r.a_passed for r in rows)
    ka = sum(r.a_passed for r in rows) / len(rows)
    kb = sum(r.b_passed for r in rows) / len(rows)
    return GroupComparison(
        group=name, scenarios=len(rows), a_ks_at_n=ka, b_ks_at_n=kb, diff=kb - ka,
        a_only=a_only, b_only=b_only, mcnemar_pvalue=mcnemar_exact(a_only, b_only),
    )


def compare_results(
    a_label: str,
    a_results: Sequence[ScenarioTestResult],
    b_label: str,
    b_results: Sequence[ScenarioTestResult],
    scenarios: Sequence[Scenario],
    *,
    bootstrap: int = DEFAULT_BOOTSTRAP,
) -> Comparison:
    by_a = {r.scenario: r for r in a_results}
    by_b = {r.scenario: r for r in b_results}
    meta = {s.id: s for s in scenarios}
    ids = [s.id for s in scenarios if s.id in by_a and s.id in by_b]
    if not ids:
        raise ValueError(f"{a_label} and {b_label} have no scenario in common")
    ns = {by_a[i].n for i in ids} | {by_b[i].n for i in ids}
    presets = {(by_a[i].preset, by_a[i].alpha) for i in ids} | {(by_b[i].preset, by_b[i].alpha) for i in ids}
    if len(ns) != 1 or len(presets) != 1:
        raise ValueError(f"compare needs one N and one preset; got N {sorted(ns)}, presets {sorted(presets)}")
    pairs = []
    for i in ids:
        ra, rb, sc = by_a[i], by_b[i], meta[i]
        pairs.append(
            PairedScenario(
                scenario=i, kind=sc.kind.value, support=sc.support.value, tags=list(sc.tags),
                a_passed=ra.passed, b_passed=rb.passed, a_pvalue=ra.pvalue, b_pvalue=rb.pvalue,
                a_statistic=ra.statistic, b_statistic=rb.statistic, a_n_valid=ra.n_valid, b_n_valid=rb.n_valid,
                test=ra.test if ra.test == rb.test else f"{ra.test}|{rb.test}",
            )
        )
    a = np.array([p.a_passed for p in pairs])
    b = np.array([p.b_passed for p in pairs])
    low, high = paired_bootstrap_ci(a, b, draws=bootstrap, seed=derive_seed("compare", a_label, b_label, *ids))
    families = [family_of(p.scenario, p.tags) for p in pairs]
    c_low, c_high = cluster_bootstrap_interval(
        (b.astype(np.float64) - a.astype(np.float64)).tolist(), families,
        draws=bootstrap, seed=derive_seed("compare-clusters", a_label, b_label, *ids),
    )
    groups: dict[str, list[PairedScenario]] = defaultdict(list)
    for p in pairs:
        for g in scenario_groups(p.kind, p.support, p.tags):
            groups[g].append(p)
    a_only, b_only = int((a & ~b).sum()), int((b & ~a).sum())
    (preset, alpha), n = presets.pop(), ns.pop()
    return Comparison(
        a=a_label, b=b_label, n=n, preset=preset, alpha=alpha, scenarios=len(pairs),
        a_passed=int(a.sum()), b_passed=int(b.sum()), a_ks_at_n=float(a.mean()), b_ks_at_n=float(b.mean()),
        diff=float(b.mean() - a.mean()), diff_ci_low=low, diff_ci_high=high, bootstrap=bootstrap,
        clusters=len(set(families)), diff_cluster_ci_low=c_low, diff_cluster_ci_high=c_high,
        both_pass=int((a & b).sum()), a_only=a_only, b_only=b_only, neither=int((~a & ~b).sum()),
        mcnemar_pvalue=mcnemar_exact(a_only, b_only),
        by_group=[_group(g, rows) for g, rows in sorted(groups.items())],
        pairs=pairs,
    )


def arm_pairs(runs: Sequence[RunData]) -> list[tuple[int, ArmKey, int, ArmKey]]:
    """Which arms to compare: (run index, arm, run index, arm) for A and B.

    One run with named conditions: the first condition against each other
    one, per model and mode (the condition effect), then native vs tool within
    each condition when both modes ran. One run otherwise: native vs tool for
    each model when both modes ran; otherwise the first model against each
    other model, per mode. Two runs: arms with the
    same (model, mode) in both; else, one model each, paired by mode; else
    one arm each.
    """
    from stochbox.errors import ConfigError

    if len(runs) == 1:
        run = runs[0]
        modes = [m.value for m in run.config.modes]
        models = run.config.models
        conditions = [c.name for c in run.config.conditions]
        if len(conditions) >= 2:
            pairs = [
                (0, (m, arm_mode(mode, conditions[0])), 0, (m, arm_mode(mode, other)))
                for m in models for mode in modes for other in conditions[1:]
            ]
            if "native" in modes and "tool" in modes:
                pairs += [(0, (m, arm_mode("native", c)), 0, (m, arm_mode("tool", c))) for m in models for c in conditions]
            return pairs
        only = conditions[0] if conditions else None  # one named condition reads as a run without conditions
        if "native" in modes and "tool" in modes:
            return [(0, (m, arm_mode("native", only)), 0, (m, arm_mode("tool", only))) for m in models]
        if len(models) >= 2:
            return [(0, (models[0], arm_mode(mode, only)), 0, (other, arm_mode(mode, only))) for other in models[1:] for mode in modes]
        raise ConfigError(
            f"{run.run_dir}: one model in one mode, nothing to compare",
            hint="run with --mode both, several --model or several --condition, or give a second run folder",
        )
    if len(runs) != 2:
        raise ConfigError("compare takes one or two run folders")
    a, b = runs
    common = [arm for arm in a.arms if arm in b.arms]
    if common:
        return [(0, arm, 1, arm) for arm in common]
    if len(a.config.models) == 1 and len(b.config.models) == 1:
        modes = [mode for _, mode in a.arms if (b.config.models[0], mode) in b.arms]
        if modes:
            return [(0, (a.config.models[0], m), 1, (b.config.models[0], m)) for m in modes]
    if len(a.arms) == 1 and len(b.arms) == 1:
        return [(0, a.arms[0], 1, b.arms[0])]
    raise ConfigError(
        f"cannot tell which arms of {a.run_dir} and {b.run_dir} to pair",
        hint="give runs with the same model/mode, one model each, or one arm each",
    )


def compare_runs(
    runs: Sequence[RunData], preset: Preset, *, n: int | None = None, bootstrap: int = DEFAULT_BOOTSTRAP
) -> list[Comparison]:
    """Comparisons for one run (native vs tool, or models) or two runs, at the smaller N of the runs."""
    n = n or min(r.config.n for r in runs)
    out = []
    for ia, arm_a, ib, arm_b in arm_pairs(runs):
        ra, rb = runs[ia], runs[ib]
        label_a = "/".join(arm_a) if len(runs) == 1 else f"{ra.run_dir.name}:{'/'.join(arm_a)}"
        label_b = "/".join(arm_b) if len(runs) == 1 else f"{rb.run_dir.name}:{'/'.join(arm_b)}"
        ids_b = {s.id for s in rb.scenarios}
        scenarios = [s for s in ra.scenarios if s.id in ids_b]
        out.append(
            compare_results(
                label_a, ra.evaluate(arm_a, preset, n), label_b, rb.evaluate(arm_b, preset, n), scenarios,
                bootstrap=bootstrap,
            )
        )
    return out
