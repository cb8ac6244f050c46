"""Confidence intervals and exact binomial helpers used across evaluators.

Contract: every interval is two-sided at ``confidence`` (default 0.95) and
returned as ``(low, high)`` within [0, 1]. KS@N uses the Wilson score
interval: it behaves well at 0 and 1 passes (unlike the Wald interval) and
is less conservative than Clopper-Pearson; Clopper-Pearson (exact) is used
where a guaranteed coverage matters more than width (calibration flags).

Both treat scenarios as independent trials. Scenarios of one family (the
``family:`` tag: one law in several wordings or parameters) pass or fail
together, so :func:`cluster_bootstrap_interval` resamples whole families
instead (a scenario without a family tag is its own cluster): the interval
for a claim about scenarios in general, not about this set's outcomes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

#: Bootstrap resamples of the family-clustered intervals.
DEFAULT_CLUSTER_DRAWS = 9999


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion; ``(0, 1)`` when ``trials == 0``."""
    if trials <= 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    denom = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denom
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def clopper_pearson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact (Clopper-Pearson) interval; ``(0, 1)`` when ``trials == 0``."""
    if trials <= 0:
        return 0.0, 1.0
    ci = stats.binomtest(successes, trials).proportion_ci(confidence_level=confidence, method="exact")
    return float(ci.low), float(ci.high)


def holm_adjust(pvalues: list[float]) -> list[float]:
    """Holm step-down adjusted p-values, in the input order (valid under any dependence)."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def family_of(scenario_id: str, tags: Sequence[str]) -> str:
    """The cluster a scenario belongs to: its first ``family:`` tag, else the scenario alone."""
    return next((t for t in tags if t.startswith("family:")), f"scenario:{scenario_id}")


def cluster_bootstrap_interval(
    values: Sequence[float],
    clusters: Sequence[str],
    *,
    seed: int,
    draws: int = DEFAULT_CLUSTER_DRAWS,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` with whole clusters resampled.

    Each of ``draws`` resamples draws as many clusters as there are, with
    replacement, and takes the mean over all scenarios of the drawn clusters
    (a ratio estimator: big families weigh by their size, as in the point
    estimate). ``values`` are pass indicators for KS@N, or per-scenario
    differences (-1, 0, 1) for a paired comparison. With one cluster the
    interval is the point estimate (nothing to resample); read the cluster
    count beside it. Deterministic given ``seed``.
    """
    if len(values) != len(clusters) or not values:
        raise ValueError("cluster_bootstrap_interval needs one cluster label per value, and at least one value")
    labels = {c: i for i, c in enumerate(dict.fromkeys(clusters))}
    idx = np.fromiter((labels[c] for c in clusters), dtype=np.int64, count=len(clusters))
    sums = np.bincount(idx, weights=np.asarray(values, dtype=np.float64), minlength=len(labels))
    sizes = np.bincount(idx, minlength=len(labels)).astype(np.float64)
    k = len(labels)
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(k, np.full(k, 1.0 / k), size=draws).astype(np.float64)
    means = (weights @ sums) / (weights @ sizes)
    tail = (1 - confidence) / 2
    low, high = np.quantile(means, [tail, 1 - tail])
    return float(low), float(high)
