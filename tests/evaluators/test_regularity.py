"""The too-regular diagnostic: calibrated on honest samples, checked against exact enumeration, and
flagging the over-regular answers it exists for (quantile lists, patterned quotas, cycled scripts)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from stochbox.evaluators.regularity import (
    DEFAULT_LEVEL,
    _ks_lower,
    check_regularity,
    runs_check,
)
from stochbox.scenarios import resolve_packs

from evalkit import KNOWN, draw


@pytest.fixture(scope="module")
def bernoulli():
    return next(s for s in resolve_packs(["canonical"])[0].scenarios if s.id == "bernoulli-explicit")


@pytest.fixture(scope="module")
def bernoulli_reference():
    return (np.random.default_rng(7).random(10_000) < 0.3).astype(int).tolist()


def test_honest_samples_are_flagged_at_most_at_the_documented_rate(canonical, references):
    """Independent draws of the true law, 5 supports x 60 repetitions at N = 100: the family-wise
    false-alarm level is 1%; 300 trials at 1% flag more than 9 with probability < 0.001."""
    flagged, trials, pvalues = 0, 0, {name: [] for name in ("closer_than_chance", "runs", "lag1", "cycle")}
    for sid in KNOWN:
        for rep in range(60):
            rng = np.random.default_rng([99, rep, KNOWN.index(sid)])
            result = check_regularity(canonical[sid], draw(sid, 100, rng), references[sid], draws=999)
            flagged += result.too_regular
            trials += 1
            for name, p in result.checks.items():
                if p is not None:
                    pvalues[name].append(p)
    print(f"\nhonest flag rate {flagged}/{trials}")
    assert flagged <= 9
    for name, ps in pvalues.items():  # each sub-check's p-value is valid: P(p <= u) <= u (+ MC noise)
        ps = np.asarray(ps)
        assert len(ps) >= 60, name
        for u in (0.05, 0.2):
            assert (ps <= u).mean() <= u + 3 * np.sqrt(u * (1 - u) / len(ps)), (name, u, (ps <= u).mean())


def test_ks_lower_tail_matches_exact_enumeration():
    """Lower tail of the permutation null of the KS distance, by enumerating all C(12, 4) subsets."""
    rng = np.random.default_rng(3)
    agent, reference = np.array([0.1, 0.45, 0.5, 0.93]), rng.random(8)
    pool = np.concatenate([agent, reference])

    def ks(a, r):
        return stats.ks_2samp(a, r).statistic

    observed = ks(agent, reference)
    null = [
        ks(pool[list(c)], np.delete(pool, list(c))) for c in itertools.combinations(range(12), 4)
    ]
    exact = np.mean(np.asarray(null) <= observed + 1e-12)
    mc = _ks_lower(agent, reference, 19_999, np.random.default_rng(0))
    assert abs(mc - exact) < 4 * np.sqrt(exact * (1 - exact) / 20_000) + 1e-4, (mc, exact)


def test_runs_check_matches_exact_enumeration():
    """Two-sided runs p-value of a binary sequence against all arrangements of its multiset."""
    seq = np.array([1, 0, 1, 0, 1, 0, 1, 0, 0, 0])
    runs = lambda s: 1 + sum(a != b for a, b in zip(s[1:], s[:-1]))  # noqa: E731
    arrangements = list(set(itertools.permutations(seq.tolist())))
    counts = np.array([runs(a) for a in arrangements])
    obs = runs(seq)
    exact = min(1.0, 2 * min((counts <= obs).mean(), (counts >= obs).mean()))
    shuffles = np.random.default_rng(1).permuted(np.tile(np.arange(len(seq)), (19_999, 1)), axis=1)
    mc = runs_check(seq, shuffles)
    assert abs(mc - exact) < 0.01, (mc, exact)


def test_evenly_spaced_normal_quantiles_are_flagged_in_any_order(canonical, references):
    sc = canonical["normal-explicit"]
    quantiles = (10 + 2 * stats.norm.ppf((np.arange(100) + 0.5) / 100)).tolist()
    shuffled = np.random.default_rng(0).permutation(quantiles).tolist()
    for samples in (quantiles, shuffled):
        result = check_regularity(sc, samples, references[sc.id])
        assert result.too_regular, result
        assert result.checks["closer_than_chance"] <= 1e-3
    assert check_regularity(sc, quantiles, references[sc.id]).checks["lag1"] <= 1e-3  # sorted: smooth


@pytest.mark.parametrize(
    "layout",
    ["sorted", "blocks of 10", "evenly spread", "repeated pattern"],
)
def test_patterned_quota_lists_are_flagged(bernoulli, bernoulli_reference, layout):
    """Exactly 30 ones in 100 for Bernoulli(0.3), laid out the way a model writes a quota."""
    if layout == "sorted":
        quota = [1] * 30 + [0] * 70
    elif layout == "blocks of 10":
        quota = ([1] * 3 + [0] * 7) * 10
    elif layout == "evenly spread":
        quota = [1 if (i * 30) // 100 != ((i + 1) * 30) // 100 else 0 for i in range(100)]
    else:
        quota = [0, 1, 0, 0, 1, 0, 0, 1, 0, 0] * 10
    assert sum(quota) == 30
    result = check_regularity(bernoulli, quota, bernoulli_reference)
    assert result.too_regular, result


def test_a_quota_in_random_order_is_the_documented_limit(bernoulli, bernoulli_reference):
    """An exact 30/100 happens to honest samplers 8.7% of the time: no 1%-level check can flag it alone."""
    assert stats.binom.pmf(30, 100, 0.3) == pytest.approx(0.0868, abs=1e-3)
    quota = np.random.default_rng(5).permutation([1] * 30 + [0] * 70).tolist()
    result = check_regularity(bernoulli, quota, bernoulli_reference)
    assert result.checks["closer_than_chance"] > 0.05
    assert not result.too_regular


@pytest.mark.parametrize("sid, period", [("die-roll", 7), ("normal-explicit", 10), ("weather-categorical", 5), ("shuffle-abcd", 6)])
def test_a_script_cycled_across_independent_calls_is_flagged(canonical, references, sid, period):
    """A fixed script of honest-looking answers, repeated call after call."""
    script = draw(sid, period, np.random.default_rng(11))
    samples = (script * (100 // period + 1))[:100]
    result = check_regularity(canonical[sid], samples, references[sid])
    assert result.too_regular, result
    assert result.checks["cycle"] <= 1e-3


def test_sorted_vectors_are_flagged(canonical, references):
    sc = canonical["dirichlet-3"]
    samples = sorted(draw(sc.id, 100, np.random.default_rng(2)), key=lambda v: v[0])
    assert check_regularity(sc, samples, references[sc.id]).too_regular


def test_missing_samples_are_skipped_and_tiny_samples_are_not_judged(canonical, references):
    sc = canonical["normal-explicit"]
    few = check_regularity(sc, [10.0, None, 11.0], references[sc.id])
    assert not few.too_regular and few.pvalue == 1.0 and set(few.checks.values()) == {None}
    quantiles = (10 + 2 * stats.norm.ppf((np.arange(100) + 0.5) / 100)).tolist()
    with_gaps = [None if i % 10 == 0 else x for i, x in enumerate(quantiles)]
    assert check_regularity(sc, with_gaps, references[sc.id]).too_regular


def test_deterministic(canonical, references):
    sc = canonical["die-roll"]
    samples = draw(sc.id, 100, np.random.default_rng(4))
    assert check_regularity(sc, samples, references[sc.id]) == check_regularity(sc, samples, references[sc.id])
    assert DEFAULT_LEVEL == 0.01


def test_orderings_of_seven_items_use_position_counts(canonical):
    """k >= 7: the sum of per-position chi-squares. A Latin-square answer (every item exactly equally often
    at every position) is far closer to uniform than random shuffles are; honest shuffles are not flagged."""
    items = list("ABCDEFG")
    fmt = canonical["shuffle-abcd"].answer_format.model_copy(update={"items": items})
    sc = canonical["shuffle-abcd"].model_copy(update={"id": "shuffle-7", "answer_format": fmt})
    rng = np.random.default_rng(6)
    reference = [list(rng.permutation(items)) for _ in range(5000)]
    latin = [items[i:] + items[:i] for i in range(7)]
    order = rng.permutation(70)
    balanced = [latin[i % 7] for i in order]  # each row 10 times, in random order
    result = check_regularity(sc, balanced, reference, draws=999)
    assert result.checks["closer_than_chance"] <= 2e-3, result
    honest = check_regularity(sc, [list(rng.permutation(items)) for _ in range(70)], reference, draws=999)
    assert honest.checks["closer_than_chance"] > 0.01, honest


@pytest.mark.parametrize("case", ["regular", "honest"])
def test_the_sequential_stop_decides_as_every_draw_would(case):
    """Besag-Clifford's stop: a p-value below the stop threshold is the full-draw p-value exactly (the same
    draws are made); a stopped one is at least the level, as the full-draw one then is."""
    rng = np.random.default_rng(11)
    reference = rng.normal(size=10_000)
    agent = stats.norm.ppf((np.arange(100) + 0.5) / 100) if case == "regular" else rng.normal(size=100)
    draws = 1999
    stop_after = int(np.ceil(DEFAULT_LEVEL * (draws + 1)))
    full = _ks_lower(agent, reference, draws, np.random.default_rng(5))
    sequential = _ks_lower(agent, reference, draws, np.random.default_rng(5), stop_after)
    if case == "regular":
        assert full < DEFAULT_LEVEL / 4 and sequential == full
    else:
        assert full > DEFAULT_LEVEL and DEFAULT_LEVEL <= sequential
        assert sequential == pytest.approx(full, abs=0.25)  # p = 20 / draws made: a coarser estimate of the same tail
