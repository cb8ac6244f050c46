"""The two-sample permutation null, simulated on counts.

Under H0 (agent and reference samples are exchangeable), conditional on the
pooled sample, the agent's N values are a uniformly random N-subset of the
pool. For any statistic that depends on the data only through the counts per
distinct value (KS on discrete data, chi-square over labels), the agent's
counts are then a multivariate hypergeometric draw over the distinct values
with the pooled counts as colours. Drawing that costs O(#distinct values) or
O(N), whichever is smaller -- not O(N + M) as permuting raw values does -- and
gives exactly the same null distribution.

Monte-Carlo p-values use ``(1 + #{null >= observed}) / (draws + 1)``, which is
never anti-conservative (it is a valid p-value for any number of draws).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: Tolerance for comparing statistics computed in floating point.
STAT_TOL = 1e-9


def pooled_counts(agent: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sorted distinct pooled values with the agent's and the reference's counts of each.

    Works for any 1-D arrays numpy can sort (numbers or strings).
    """
    values, inverse = np.unique(np.concatenate([agent, reference]), return_inverse=True)
    k = len(values)
    a = np.bincount(inverse[: len(agent)], minlength=k)
    r = np.bincount(inverse[len(agent) :], minlength=k)
    return values, a, r


def draw_agent_counts(pooled: np.ndarray, n: int, draws: int, rng: np.random.Generator) -> np.ndarray:
    """``draws`` null draws of the agent's counts, shape ``(draws, len(pooled))``.

    numpy's two exact samplers cost O(#distinct) (``marginals``) and O(n)
    (``count``) per draw; the cheaper one is used (the choice depends only on
    the sizes, so results stay deterministic).
    """
    pooled = np.asarray(pooled, dtype=np.int64)
    method = "marginals" if len(pooled) <= max(8, n // 5) else "count"  # measured crossover
    return rng.multivariate_hypergeometric(pooled, n, size=draws, method=method)


#: Cells (draws x distinct values) held in memory at once by :func:`null_statistics`.
CHUNK_CELLS = 2_000_000


def null_statistics(
    pooled: np.ndarray, n: int, draws: int, rng: np.random.Generator, statistic: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """``statistic`` (mapping a ``(b, K)`` block of null agent counts to ``b`` values) over ``draws`` null draws.

    Draws are made in chunks so memory stays bounded with many distinct values.
    """
    chunk = max(1, CHUNK_CELLS // max(1, len(pooled)))
    out = np.empty(draws)
    for start in range(0, draws, chunk):
        b = min(chunk, draws - start)
        out[start : start + b] = statistic(draw_agent_counts(pooled, n, b, rng))
    return out


def mc_pvalue(null_stats: np.ndarray, observed: float) -> float:
    """Upper-tail Monte-Carlo p-value including the observed statistic."""
    exceed = int(np.count_nonzero(null_stats >= observed - STAT_TOL * max(1.0, abs(observed))))
    return (1 + exceed) / (len(null_stats) + 1)
