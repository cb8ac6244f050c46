"""Two-sample Kolmogorov-Smirnov tests for one-dimensional numeric samples.

* :func:`ks_continuous` -- scipy's ``ks_2samp`` (exact p-value where scipy
  deems it feasible, asymptotic otherwise). Calibrated only when there are no
  ties; with ties its p-value is conservative.
* :func:`ks_exact_test` -- the same statistic with the exact p-value of the
  conditional (permutation) null given the pooled sample, ties and atoms
  included (:func:`.smirnov.ks_exact`). Calibrated with ties, at any N; the
  default for tied data.
* :func:`ks_discrete_mc` -- the same null simulated on counts per distinct
  value (:mod:`.conditional_null`); its limit as ``draws`` grows is
  :func:`ks_exact_test`. Kept for the paper's Monte-Carlo numbers
  (``unpredictabench-mc``) and as an independent check.
* :func:`ks_naive_permutation` -- the textbook permutation test that
  shuffles the raw pooled values; same null distribution, O(N + M) per draw.
  Kept as the baseline for ``benchmarks/discrete_ks.py`` and for tests.

All return a :class:`TestOutcome` (scipy style: ``statistic``, ``pvalue``).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from stochbox.evaluators.conditional_null import mc_pvalue, null_statistics, pooled_counts
from stochbox.evaluators.outcome import TestOutcome
from stochbox.evaluators.smirnov import ks_exact

#: Default number of Monte-Carlo null draws for count-based nulls (cheap: O(#distinct) each).
DEFAULT_DRAWS = 9999


def ks_continuous(agent: np.ndarray, reference: np.ndarray) -> TestOutcome:
    res = stats.ks_2samp(agent, reference, method="auto")
    return TestOutcome(
        test="ks_2samp",
        statistic=float(res.statistic),
        pvalue=float(res.pvalue),
        extra={"method": "scipy.stats.ks_2samp(method='auto')"},
    )


def ks_exact_test(agent: np.ndarray, reference: np.ndarray) -> TestOutcome:
    """KS statistic with the exact conditional p-value (no Monte Carlo, no seed)."""
    res = ks_exact(agent, reference)
    return TestOutcome(
        test="ks_exact",
        statistic=res.statistic,
        pvalue=res.pvalue,
        extra={
            "method": res.method,
            "distinct_values": res.distinct_values,
            "statistic_location": res.statistic_location,
            "statistic_sign": res.statistic_sign,
        },
    )


def _ks_scaled(cum_agent: np.ndarray, cum_ref: np.ndarray, n: int, m: int) -> np.ndarray:
    """KS distance times n*m, in exact integer arithmetic (so ties in the null compare exactly)."""
    return np.max(np.abs(cum_agent * m - cum_ref * n), axis=-1)


def ks_statistic_from_counts(agent_counts: np.ndarray, ref_counts: np.ndarray) -> float:
    """KS distance between two samples given counts over the same sorted distinct values."""
    n, m = int(agent_counts.sum()), int(ref_counts.sum())
    return float(_ks_scaled(np.cumsum(agent_counts), np.cumsum(ref_counts), n, m)) / (n * m)


def ks_discrete_mc(
    agent: np.ndarray, reference: np.ndarray, *, draws: int = DEFAULT_DRAWS, rng: np.random.Generator
) -> TestOutcome:
    """KS statistic with a Monte-Carlo exact conditional p-value simulated on counts."""
    _, a, r = pooled_counts(np.asarray(agent), np.asarray(reference))
    n, m = int(a.sum()), int(r.sum())
    pooled = a + r
    observed = _ks_scaled(np.cumsum(a), np.cumsum(r), n, m)
    cum_pooled_n = np.cumsum(pooled) * n

    def scaled(null_counts: np.ndarray) -> np.ndarray:
        # |A*m - (C - A)*n| = |A*(n+m) - C*n|: one multiply-subtract per cell, in place.
        np.cumsum(null_counts, axis=1, out=null_counts)
        null_counts *= n + m
        null_counts -= cum_pooled_n
        np.abs(null_counts, out=null_counts)
        return null_counts.max(axis=1)

    null = null_statistics(pooled, n, draws, rng, scaled)
    return TestOutcome(
        test="ks_discrete_mc",
        statistic=float(observed) / (n * m),
        pvalue=mc_pvalue(null, float(observed)),
        extra={"draws": draws, "distinct_values": int(len(pooled)), "null": "permutation (counts)"},
    )


def ks_naive_permutation(
    agent: np.ndarray, reference: np.ndarray, *, draws: int = DEFAULT_DRAWS, rng: np.random.Generator
) -> TestOutcome:
    """Baseline: permute the raw pooled values ``draws`` times and recompute the KS distance."""
    agent = np.asarray(agent, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    n, m = len(agent), len(reference)
    pool = np.concatenate([agent, reference])
    grid = np.unique(pool)

    def scaled(x: np.ndarray, y: np.ndarray) -> int:
        cx = np.searchsorted(np.sort(x), grid, side="right")
        cy = np.searchsorted(np.sort(y), grid, side="right")
        return int(np.max(np.abs(cx * m - cy * n)))

    observed = scaled(agent, reference)
    null = np.empty(draws)
    for i in range(draws):
        perm = rng.permutation(pool)
        null[i] = scaled(perm[:n], perm[n:])
    return TestOutcome(
        test="ks_naive_permutation",
        statistic=observed / (n * m),
        pvalue=mc_pvalue(null, float(observed)),
        extra={"draws": draws},
    )
