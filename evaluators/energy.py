"""Energy-distance permutation test for multivariate (vector) samples.

Coordinates are standardised by the reference's per-coordinate standard
deviation (so no coordinate dominates by its units), then the statistic is
the squared energy distance (V-statistic form)
``2 E|X-Y| - E|X-X'| - E|Y-Y'|``, whose square root equals
``scipy.stats.energy_distance`` in one dimension.

The p-value is a Monte-Carlo permutation p-value over the pooled sample. The
pairwise-distance matrix of the pool is what costs memory and time, so the
reference is thinned to a seeded random subset of
:func:`reference_size` ``(N) = min(max(500, 5 N), 3000)`` points before
pooling. A random subset of reference draws is still a sample from the
reference distribution, so the test stays exact at any size; scaling the
subset with N keeps the power growing with N (a fixed 500 points caps it:
the test can never see a difference smaller than the 500-point reference's
own noise). 3,000 bounds the pool at 4,000 points (N = 1000): about 200 MB
for the distance matrix in float64 and float32.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.distance import cdist

from stochbox.evaluators.conditional_null import mc_pvalue
from stochbox.evaluators.outcome import TestOutcome

DEFAULT_DRAWS = 999
#: Reference points used at least (small N) and at most (memory bound), and per agent sample.
MIN_REFERENCE = 500
MAX_REFERENCE = 3000
REFERENCE_PER_SAMPLE = 5


def reference_size(n: int) -> int:
    """Reference points the test uses for ``n`` agent samples: ``min(max(500, 5 n), 3000)``."""
    return min(max(MIN_REFERENCE, REFERENCE_PER_SAMPLE * n), MAX_REFERENCE)


def energy_statistic(x: np.ndarray, y: np.ndarray) -> float:
    """Squared energy distance between two point clouds (rows are points), V-statistic form."""
    x = np.asarray(x, dtype=np.float64).reshape(len(x), -1)
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    return float(2 * cdist(x, y).mean() - cdist(x, x).mean() - cdist(y, y).mean())


def energy_null(
    agent: np.ndarray,
    reference: np.ndarray,
    *,
    draws: int = DEFAULT_DRAWS,
    max_reference: int | None = None,
    rng: np.random.Generator,
) -> tuple[float, np.ndarray, int]:
    """Observed statistic, ``draws`` permutation-null statistics and the reference points used.

    ``max_reference`` defaults to :func:`reference_size` of the agent's sample size.
    Both tails of the null are valid: :func:`energy_perm` reads the upper one, the
    too-regular diagnostic (:mod:`.regularity`) the lower one.
    """
    agent = np.asarray(agent, dtype=np.float64).reshape(len(agent), -1)
    reference = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
    scale = reference.std(axis=0)
    scale[~(scale > 0)] = 1.0
    limit = reference_size(len(agent)) if max_reference is None else max_reference
    if len(reference) > limit:
        reference = reference[rng.choice(len(reference), limit, replace=False)]
    n, m = len(agent), len(reference)
    pool = np.concatenate([agent, reference]) / scale
    dist = cdist(pool, pool)
    row_sums = dist.sum(axis=1)
    total = row_sums.sum()
    dist32 = dist.astype(np.float32)  # float32 BLAS: half the memory traffic; sums stay float64 below
    del dist

    # Under a relabelling only the smaller group's within-sum needs an O(k^2) gather;
    # the cross and the other within-sum follow from row sums.
    k = min(n, m)

    def within(small_idx: np.ndarray) -> np.ndarray:
        if k <= 150:  # small groups: gather the k x k blocks (the matrix is cache-resident in float32)
            return dist32[small_idx[:, :, None], small_idx[:, None, :]].sum(axis=(1, 2), dtype=np.float64)
        # Quadratic form z' D z over 0/1 membership rows, through one matrix product per chunk.
        member = np.zeros((len(small_idx), n + m), dtype=np.float32)
        np.put_along_axis(member, small_idx, 1.0, axis=1)
        return np.einsum("bi,bi->b", (member @ dist32).astype(np.float64), member)

    def stat(small_idx: np.ndarray) -> np.ndarray:  # (B, k) indices of the smaller group
        within_small = within(small_idx)
        cross = row_sums[small_idx].sum(axis=1) - within_small
        within_big = total - 2 * cross - within_small
        wx, wy = (within_small, within_big) if n <= m else (within_big, within_small)
        return 2 * cross / (n * m) - wx / n**2 - wy / m**2

    first = np.arange(n) if n <= m else np.arange(n, n + m)
    observed = float(stat(first[None, :])[0])
    null = np.empty(draws)
    chunk = 128
    for start in range(0, draws, chunk):
        b = min(chunk, draws - start)
        null[start : start + b] = stat(np.argpartition(rng.random((b, n + m)), k, axis=1)[:, :k])
    return observed, null, m


def energy_perm(
    agent: np.ndarray,
    reference: np.ndarray,
    *,
    draws: int = DEFAULT_DRAWS,
    max_reference: int | None = None,
    rng: np.random.Generator,
) -> TestOutcome:
    """Energy-distance permutation test; ``max_reference`` defaults to :func:`reference_size` (N)."""
    observed, null, m = energy_null(agent, reference, draws=draws, max_reference=max_reference, rng=rng)
    return TestOutcome(
        test="energy_perm",
        statistic=observed,
        pvalue=mc_pvalue(null, observed),
        extra={"draws": draws, "reference_used": m, "standardised_by": "reference sd"},
    )
