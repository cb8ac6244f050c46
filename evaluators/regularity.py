"""Too-regular diagnostic: are the agent's samples more regular than independent draws almost ever are?

A two-sample test checks the marginal law. An answer that *describes* the
law -- evenly spaced quantiles, a quota of exactly 30 ones in 100 laid out in
a pattern, a fixed script of answers cycled across calls -- matches the
marginal too well and passes. This module asks the opposite question, with
four sub-checks, each a valid p-value under the hypothesis that the agent's
samples are independent draws of the reference law (in episode order):

``closer_than_chance``
    Lower tail of the support's two-sample statistic under the test's own
    permutation null (the agent's values are a uniformly random subset of
    the pooled sample): KS distance (continuous, discrete), chi-square over
    labels (categorical) or whole orderings (k <= 6), the sum of per-position
    chi-squares (orderings of k >= 7 items), squared energy distance
    (vectors, reference thinned to 500 points). p = (1 + #{null <= observed})
    / (draws + 1). Conditional Monte Carlo: exact in distribution with ties
    and atoms, at any N. For KS and chi-square the draws stop early
    (Besag and Clifford's sequential p-value, still valid) once
    ``ceil(level * (draws + 1))`` null statistics are at or below the
    observed one: such a p-value is at least ``level``, so the flag is
    decided exactly as with every draw made, and an honest sample costs a
    few hundred draws instead of ``draws``.
``runs``
    Two-sided runs test on the episode-ordered sequence: runs of labels or
    orderings; for numbers and vectors, runs above / below the reference's
    median (of the sum of reference-standardised coordinates for vectors).
    Null: the agent's own sequence shuffled (exchangeable under
    independence). Catches sorted, blocked and alternating answers.
``lag1``
    Two-sided lag-1 dependence of numbers and vectors: the mean distance
    between consecutive samples (mid-ranks for numbers, reference-standardised
    Euclidean distance for vectors), a rank von Neumann ratio; shuffle null.
    Catches smooth, sorted and zig-zag sequences.
``cycle``
    Exact repetition: the largest share of positions i with sample i equal
    to sample i + lag, over lags 1 .. min(N // 2, 250); shuffle null (so
    ties that the law makes likely are accounted for). Catches a script
    cycled across independent calls and a batch answer repeated across
    episodes.

The scenario is **too regular** when the Bonferroni-adjusted smallest
p-value (smallest p times the number of checks that apply) is below
``level`` (default 0.01): the family-wise false-alarm rate is at most 1% per
(model, mode, scenario) for an honest sampler, whatever the dependence
between the checks. It is a report, never part of the pass rule.

Known limit: a quota list in *random* order is indistinguishable from an
honest sample that happened to hit the quota (for Bernoulli(0.3) at N = 100,
an exact 30 happens 8.7% of the time); no check at a 1% false-alarm rate can
flag it alone. Patterned quotas (sorted, evenly spread, repeated) are flagged.

Deterministic: draws are seeded with ``derive_seed("regularity", scenario
id, N, digest)`` (digest as in :mod:`.dispatch`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from stochbox.evaluators import energy
from stochbox.evaluators.categorical import homogeneity_statistic
from stochbox.evaluators.conditional_null import STAT_TOL, null_statistics, pooled_counts
from stochbox.evaluators.dispatch import data_digest
from stochbox.evaluators.models import Regularity
from stochbox.evaluators.permutations import MAX_WHOLE_CELLS, permutation_key
from stochbox.scenarios.models import Scenario, Support
from stochbox.scenarios.samples import coerce_sample
from stochbox.seeding import derive_seed

DEFAULT_LEVEL = 0.01
DEFAULT_DRAWS = 1999
#: Reference points of the energy statistic's lower tail (the upper-tail test scales with N; this one need not).
ENERGY_REFERENCE = 500
#: Largest lag of the cycle check.
MAX_CYCLE_LAG = 250
#: Fewer valid samples than this: no check applies.
MIN_SAMPLES = 4

CHECKS = ("closer_than_chance", "runs", "lag1", "cycle")


def _lower_pvalue(null: np.ndarray, observed: float, exact: bool = False) -> float:
    tol = 0.0 if exact else STAT_TOL * max(1.0, abs(observed))
    return (1 + int(np.count_nonzero(null <= observed + tol))) / (len(null) + 1)


def _upper_pvalue(null: np.ndarray, observed: float, exact: bool = False) -> float:
    tol = 0.0 if exact else STAT_TOL * max(1.0, abs(observed))
    return (1 + int(np.count_nonzero(null >= observed - tol))) / (len(null) + 1)


def _two_sided(null: np.ndarray, observed: float, exact: bool = False) -> float:
    return min(1.0, 2 * min(_lower_pvalue(null, observed, exact), _upper_pvalue(null, observed, exact)))


# -- closer than chance ---------------------------------------------------------------------


#: Null draws made at a time by the sequential lower-tail Monte Carlo.
SEQUENTIAL_CHUNK = 100


def _sequential_lower_pvalue(
    pooled: np.ndarray,
    n: int,
    draws: int,
    rng: np.random.Generator,
    statistic: Any,
    observed: float,
    tol: float,
    stop_after: int | None,
) -> float:
    """Lower-tail conditional Monte-Carlo p-value of ``observed``; with ``stop_after``, Besag and Clifford's
    (1991) sequential form: draws stop once ``stop_after`` null statistics are <= ``observed`` (p =
    stop_after / draws made), else p = (1 + hits) / (draws + 1) after all ``draws``. Both are valid."""
    hits = made = 0
    while made < draws:
        b = min(SEQUENTIAL_CHUNK if stop_after is not None else draws, draws - made)
        below = np.asarray(null_statistics(pooled, n, b, rng, statistic)) <= observed + tol
        if stop_after is not None:
            cumulative = np.cumsum(below)
            if hits + int(cumulative[-1]) >= stop_after:
                at = int(np.searchsorted(cumulative, stop_after - hits))  # the draw that made the last hit
                return stop_after / (made + at + 1)
        hits += int(np.count_nonzero(below))
        made += b
    return (1 + hits) / (draws + 1)


def _ks_lower(
    agent: np.ndarray, reference: np.ndarray, draws: int, rng: np.random.Generator, stop_after: int | None = None
) -> float:
    _, a, r = pooled_counts(agent, reference)
    n, m = int(a.sum()), int(r.sum())
    pooled = a + r
    cum_pooled_n = np.cumsum(pooled) * n

    def scaled(counts: np.ndarray) -> np.ndarray:  # KS * n * m, exact integers
        return np.abs(np.cumsum(counts, axis=-1) * (n + m) - cum_pooled_n).max(axis=-1)

    observed = float(scaled(a[None, :])[0])
    return _sequential_lower_pvalue(pooled, n, draws, rng, scaled, observed, 0.0, stop_after)


def _chi2_lower(
    agent: Sequence[Any], reference: Sequence[Any], draws: int, rng: np.random.Generator, stop_after: int | None = None
) -> float | None:
    _, a, r = pooled_counts(np.asarray(agent, dtype=object).astype(str), np.asarray(reference, dtype=object).astype(str))
    if len(a) < 2:
        return None  # one label in both samples: no statistic to be small
    pooled = a + r
    observed = float(homogeneity_statistic(a, r))
    return _sequential_lower_pvalue(
        pooled, int(a.sum()), draws, rng, lambda na: homogeneity_statistic(na, pooled - na),
        observed, STAT_TOL * max(1.0, abs(observed)), stop_after,
    )


def _positions_lower(agent: list[list[Any]], reference: list[list[Any]], k: int, draws: int, rng: np.random.Generator) -> float:
    """Sum over positions of the chi-square of which item lands there; null by drawing agent subsets of the pool."""
    items = {str(x): i for i, x in enumerate(sorted({str(x) for s in reference for x in s} | {str(x) for s in agent for x in s}))}
    q = len(items)
    pool = np.array([[items[str(x)] for x in s] for s in [*agent, *reference]], dtype=np.int64)  # (n+m, k)
    n, total = len(agent), len(pool)
    pooled = np.zeros((k, q), dtype=np.int64)
    np.add.at(pooled, (np.tile(np.arange(k), total), pool.ravel()), 1)

    def stat(counts: np.ndarray) -> np.ndarray:  # counts (..., k, q) of the agent
        with np.errstate(divide="ignore", invalid="ignore"):
            cells = homogeneity_statistic(counts, pooled - counts)
        return np.nan_to_num(cells, nan=0.0).sum(axis=-1)

    def counts_of(rows: np.ndarray) -> np.ndarray:  # rows (B, n) indices into the pool
        b = len(rows)
        flat = (np.arange(b)[:, None, None] * k * q + np.arange(k)[None, None, :] * q + pool[rows]).ravel()
        return np.bincount(flat, minlength=b * k * q).reshape(b, k, q)

    observed = float(stat(counts_of(np.arange(n)[None, :]))[0])
    null = np.empty(draws)
    chunk = max(1, 2_000_000 // total)
    for start in range(0, draws, chunk):
        b = min(chunk, draws - start)
        null[start : start + b] = stat(counts_of(np.argpartition(rng.random((b, total)), n, axis=1)[:, :n]))
    return _lower_pvalue(null, observed)


def closer_than_chance(
    scenario: Scenario,
    agent: list[Any],
    reference: list[Any],
    *,
    draws: int,
    rng: np.random.Generator,
    stop_after: int | None = None,
) -> float | None:
    """Lower-tail p-value of the support's two-sample statistic (None where it cannot be computed);
    ``stop_after``: the sequential stop of the KS and chi-square Monte Carlo (see the module contract)."""
    support = scenario.support
    if support in (Support.continuous, Support.discrete):
        agent_values, reference_values = np.asarray(agent, dtype=np.float64), np.asarray(reference, dtype=np.float64)
        return _ks_lower(agent_values, reference_values, draws, rng, stop_after)
    if support is Support.categorical:
        return _chi2_lower(agent, reference, draws, rng, stop_after)
    if support is Support.permutation:
        k = len(scenario.answer_format.items or agent[0])
        if math.factorial(k) <= MAX_WHOLE_CELLS:
            keys = [permutation_key(s) for s in agent], [permutation_key(s) for s in reference]
            return _chi2_lower(*keys, draws, rng, stop_after)
        return _positions_lower(agent, reference, k, draws, rng)
    if support is Support.multivariate:
        observed, null, _ = energy.energy_null(
            np.asarray(agent, dtype=np.float64), np.asarray(reference, dtype=np.float64),
            draws=min(draws, energy.DEFAULT_DRAWS), max_reference=ENERGY_REFERENCE, rng=rng,
        )
        return _lower_pvalue(null, observed)
    return None


# -- the sequence ---------------------------------------------------------------------------


def _keys(values: Sequence[Any]) -> np.ndarray:
    """Integer codes of exact sample values (equal samples, equal codes)."""
    text = [json.dumps(v, sort_keys=True, default=str) for v in values]
    index: dict[str, int] = {}
    return np.array([index.setdefault(t, len(index)) for t in text], dtype=np.int64)


def _feature(scenario: Scenario, agent: list[Any], reference: list[Any]) -> tuple[np.ndarray, float] | None:
    """A number per sample and the reference's median of it (numbers: the value; vectors: the sum of
    reference-standardised coordinates); None for labels and orderings."""
    if scenario.support in (Support.continuous, Support.discrete):
        return np.asarray(agent, dtype=np.float64), float(np.median(np.asarray(reference, dtype=np.float64)))
    if scenario.support is Support.multivariate:
        ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
        scale = ref.std(axis=0)
        scale[~(scale > 0)] = 1.0
        a = np.asarray(agent, dtype=np.float64).reshape(len(agent), -1) / scale
        return a.sum(axis=1), float(np.median((ref / scale).sum(axis=1)))
    return None


def runs_check(classes: np.ndarray, shuffles: np.ndarray) -> float | None:
    """Two-sided runs test; ``shuffles`` are (B, N) permutation indices of the sequence."""
    if len(np.unique(classes)) < 2:
        return None
    count = lambda c: 1 + np.count_nonzero(c[..., 1:] != c[..., :-1], axis=-1)  # noqa: E731
    return _two_sided(count(classes[shuffles]).astype(np.float64), float(count(classes)), exact=True)


def lag1_check(points: np.ndarray, shuffles: np.ndarray) -> float | None:
    """Two-sided test of the mean distance between consecutive points ((N,) ranks or (N, d) vectors)."""
    pts = points.reshape(len(points), -1)
    if np.all(pts == pts[0]):
        return None

    def mean_step(x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(x[..., 1:, :] - x[..., :-1, :], axis=-1).mean(axis=-1)

    return _two_sided(mean_step(pts[shuffles]), float(mean_step(pts)))


def cycle_check(keys: np.ndarray, shuffles: np.ndarray) -> float | None:
    """Upper-tail test of the largest exact-match rate between samples ``lag`` apart."""
    n = len(keys)
    distinct = len(np.unique(keys))
    if distinct == n or distinct == 1:
        return None  # nothing repeats, or everything does whatever the order
    lags = range(1, min(n // 2, MAX_CYCLE_LAG) + 1)

    def best(seq: np.ndarray) -> np.ndarray:
        out = np.zeros(seq.shape[:-1])
        for lag in lags:
            np.maximum(out, (seq[..., lag:] == seq[..., :-lag]).mean(axis=-1), out=out)
        return out

    return _upper_pvalue(best(keys[shuffles]), float(best(keys)))


def _mid_ranks(x: np.ndarray) -> np.ndarray:
    order = np.argsort(x, kind="stable")
    ranks = np.empty(len(x))
    ranks[order] = np.arange(len(x), dtype=np.float64)
    values, inverse = np.unique(x, return_inverse=True)
    return np.bincount(inverse, weights=ranks)[inverse] / np.bincount(inverse)[inverse]


def _valid(samples: Sequence[Any | None], scenario: Scenario) -> list[Any]:
    out = []
    for s in samples:
        if s is None:
            continue
        try:
            out.append(coerce_sample(s, scenario.answer_format))
        except ValueError:
            continue
    return out


def check_regularity(
    scenario: Scenario,
    samples: Sequence[Any | None],
    reference: Sequence[Any],
    *,
    level: float = DEFAULT_LEVEL,
    draws: int = DEFAULT_DRAWS,
) -> Regularity:
    """Run every applicable sub-check on the valid samples, in order; see the module contract.

    ``samples`` are the N episode-ordered slots (``None`` where missing);
    missing and invalid ones are skipped, the order of the rest kept.
    """
    agent = _valid(samples, scenario)
    reference = list(reference)
    checks: dict[str, float | None] = dict.fromkeys(CHECKS)
    if len(agent) >= MIN_SAMPLES and reference:
        rng = np.random.default_rng(derive_seed("regularity", scenario.id, len(samples), data_digest(agent, reference)))
        checks["closer_than_chance"] = closer_than_chance(
            scenario, agent, reference, draws=draws, rng=rng, stop_after=math.ceil(level * (draws + 1))
        )
        shuffles = rng.permuted(np.tile(np.arange(len(agent)), (draws, 1)), axis=1)
        feature = _feature(scenario, agent, reference)
        keys = _keys(agent)
        if feature is None:
            checks["runs"] = runs_check(keys, shuffles)
        else:
            values, median = feature
            checks["runs"] = runs_check((values > median).astype(np.int64), shuffles)
            if scenario.support is Support.multivariate:
                ref = np.asarray(reference, dtype=np.float64).reshape(len(reference), -1)
                scale = ref.std(axis=0)
                scale[~(scale > 0)] = 1.0
                checks["lag1"] = lag1_check(np.asarray(agent, dtype=np.float64).reshape(len(agent), -1) / scale, shuffles)
            else:
                checks["lag1"] = lag1_check(_mid_ranks(values), shuffles)
        checks["cycle"] = cycle_check(keys, shuffles)
    applied = {k: p for k, p in checks.items() if p is not None}
    if not applied:
        return Regularity(too_regular=False, pvalue=1.0, level=level, checks=checks, detail="no check applies")
    worst = min(applied, key=lambda k: applied[k])
    adjusted = min(1.0, applied[worst] * len(applied))
    flagged = adjusted < level
    detail = f"{worst} p = {applied[worst]:.3g} (x{len(applied)} checks = {adjusted:.3g} < {level:g})" if flagged else None
    return Regularity(too_regular=flagged, pvalue=adjusted, level=level, checks=checks, detail=detail)
