"""Every test statistic and p-value checked against scipy or an exact computation (fixed seeds)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from stochbox.evaluators.categorical import chi2_mc, homogeneity_statistic, label_counts
from stochbox.evaluators.conditional_null import pooled_counts
from stochbox.evaluators.energy import energy_perm, energy_statistic
from stochbox.evaluators.intervals import clopper_pearson_interval, holm_adjust
from stochbox.evaluators.ks import ks_continuous, ks_discrete_mc, ks_naive_permutation, ks_statistic_from_counts
from stochbox.evaluators.permutations import permutation_test


def _mc_tolerance(p: float, draws: int) -> float:
    """Five standard errors of a Monte-Carlo p-value, plus its resolution."""
    return 5 * math.sqrt(max(p * (1 - p), 1e-4) / draws) + 2 / draws


def test_ks_continuous_is_scipy():
    rng = np.random.default_rng(1)
    a, r = rng.normal(size=100), rng.normal(0.2, 1, size=10_000)
    ours, ref = ks_continuous(a, r), stats.ks_2samp(a, r)
    assert ours.statistic == ref.statistic and ours.pvalue == ref.pvalue


def test_ks_statistic_from_counts_matches_scipy_with_ties():
    rng = np.random.default_rng(2)
    a, r = rng.poisson(3, 57), rng.poisson(3.3, 4000)
    _, ca, cr = pooled_counts(a, r)
    assert ks_statistic_from_counts(ca, cr) == pytest.approx(stats.ks_2samp(a, r).statistic, abs=1e-12)
    assert ks_discrete_mc(a, r, draws=10, rng=rng).statistic == pytest.approx(stats.ks_2samp(a, r).statistic, abs=1e-12)


def _exact_conditional_ks_pvalue(a: np.ndarray, r: np.ndarray) -> float:
    """Enumerate every agent count vector (multivariate hypergeometric) -- exact permutation p-value."""
    _, ca, cr = pooled_counts(a, r)
    pooled, n = ca + cr, int(ca.sum())
    observed = ks_statistic_from_counts(ca, cr)
    total = math.comb(int(pooled.sum()), n)
    p = 0.0
    for counts in itertools.product(*(range(min(c, n) + 1) for c in pooled)):
        if sum(counts) != n:
            continue
        x = np.array(counts)
        if ks_statistic_from_counts(x, pooled - x) >= observed - 1e-12:
            p += math.prod(math.comb(int(c), int(k)) for c, k in zip(pooled, x)) / total
    return p


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_discrete_mc_and_naive_permutation_match_the_exact_conditional_pvalue(seed):
    rng = np.random.default_rng(seed)
    a, r = rng.integers(0, 4, 12), rng.integers(0, 4, 60)
    a[:3] = 0  # nudge away from the null so p is not trivially near 1
    exact = _exact_conditional_ks_pvalue(a, r)
    mc = ks_discrete_mc(a, r, draws=20_000, rng=np.random.default_rng(seed + 100)).pvalue
    naive = ks_naive_permutation(a, r, draws=4000, rng=np.random.default_rng(seed + 200)).pvalue
    assert abs(mc - exact) <= _mc_tolerance(exact, 20_000)
    assert abs(naive - exact) <= _mc_tolerance(exact, 4000)


def test_discrete_mc_and_naive_give_the_same_pvalue_distribution_under_the_null():
    """Same null distribution: across 40 null data sets the two p-values agree within MC error."""
    rng = np.random.default_rng(3)
    diffs = []
    for i in range(40):
        a, r = rng.integers(1, 7, 30), rng.integers(1, 7, 400)
        p_mc = ks_discrete_mc(a, r, draws=1000, rng=np.random.default_rng(i)).pvalue
        p_naive = ks_naive_permutation(a, r, draws=1000, rng=np.random.default_rng(1000 + i)).pvalue
        assert abs(p_mc - p_naive) <= 2 * _mc_tolerance(max(p_mc, p_naive), 1000)
        diffs.append(p_mc - p_naive)
    assert abs(np.mean(diffs)) < 0.02  # no systematic shift


def _rejection_interval(trials: int, alpha: float) -> tuple[int, int]:
    """Central 99.9% binomial range of rejections for a calibrated test."""
    return int(stats.binom.ppf(0.0005, trials, alpha)), int(stats.binom.ppf(0.9995, trials, alpha))


def test_discrete_mc_is_calibrated_where_asymptotic_ks_is_conservative():
    rng = np.random.default_rng(4)
    trials, rej_mc, rej_asym = 400, 0, 0
    reference = rng.integers(1, 7, 10_000)
    for i in range(trials):
        a = rng.integers(1, 7, 30)
        rej_mc += ks_discrete_mc(a, reference, draws=999, rng=np.random.default_rng(i)).pvalue < 0.05
        rej_asym += stats.ks_2samp(a, reference).pvalue < 0.05
    lo, hi = _rejection_interval(trials, 0.05)
    assert lo <= rej_mc <= hi
    assert rej_asym < lo  # the plain KS p-value rejects far too rarely with ties


def test_chi2_statistics_match_scipy():
    rng = np.random.default_rng(5)
    a = rng.choice(["x", "y", "z"], p=[0.5, 0.3, 0.2], size=300).tolist()
    r = rng.choice(["x", "y", "z"], p=[0.45, 0.35, 0.2], size=5000).tolist()
    _, ca, cr = label_counts(a, r)
    table = np.array([ca, cr])
    pearson = stats.chi2_contingency(table, correction=False)
    g = stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")
    assert homogeneity_statistic(ca, cr) == pytest.approx(pearson.statistic)
    assert homogeneity_statistic(ca, cr, "g") == pytest.approx(g.statistic)
    # power_divergence on the agent row against its expected counts gives the agent half of the sum
    expected = ca.sum() * (ca + cr) / (ca + cr).sum()
    half = stats.power_divergence(ca, expected).statistic
    assert half < pearson.statistic
    # with large counts the exact conditional p-value is close to the asymptotic one
    mc = chi2_mc(a, r, draws=20_000, rng=np.random.default_rng(6))
    assert mc.statistic == pytest.approx(pearson.statistic)
    assert abs(mc.pvalue - pearson.pvalue) <= _mc_tolerance(pearson.pvalue, 20_000) + 0.01


def test_chisquare_goodness_of_fit_limit():
    """With an enormous reference, the homogeneity statistic tends to scipy's chisquare GOF statistic."""
    rng = np.random.default_rng(7)
    a = rng.choice(3, p=[0.5, 0.3, 0.2], size=200)
    ca = np.bincount(a, minlength=3)
    cr = np.round(np.array([0.5, 0.3, 0.2]) * 10**9).astype(np.int64)
    gof = stats.chisquare(ca, f_exp=ca.sum() * np.array([0.5, 0.3, 0.2]))
    assert homogeneity_statistic(ca, cr) == pytest.approx(gof.statistic, rel=1e-5)


@pytest.mark.parametrize("probs", [[0.5, 0.3, 0.2], [0.9, 0.06, 0.04]])
def test_categorical_mc_not_anti_conservative_at_small_n(probs):
    rng = np.random.default_rng(8)
    labels = ["a", "b", "c"]
    reference = rng.choice(labels, p=probs, size=10_000).tolist()
    trials, rejected = 400, 0
    for i in range(trials):
        agent = rng.choice(labels, p=probs, size=10).tolist()
        rejected += chi2_mc(agent, reference, draws=999, rng=np.random.default_rng(i)).pvalue < 0.05
    _, hi = _rejection_interval(trials, 0.05)
    assert rejected <= hi


def test_energy_statistic_matches_scipy_in_one_dimension():
    rng = np.random.default_rng(9)
    x, y = rng.normal(size=40), rng.exponential(size=70)
    assert energy_statistic(x, y) == pytest.approx(stats.energy_distance(x, y) ** 2, rel=1e-10)


def test_energy_perm_calibrated_and_powerful():
    rng = np.random.default_rng(10)
    reference = rng.dirichlet([2, 3, 5], 10_000)
    trials, rejected = 200, 0
    for i in range(trials):
        agent = rng.dirichlet([2, 3, 5], 30)
        rejected += energy_perm(agent, reference, draws=199, max_reference=300, rng=np.random.default_rng(i)).pvalue < 0.05
    lo, hi = _rejection_interval(trials, 0.05)
    assert lo <= rejected <= hi
    wrong = rng.dirichlet([5, 3, 2], 100)
    assert energy_perm(wrong, reference, rng=np.random.default_rng(0)).pvalue < 0.01


def test_holm_adjust_known_values():
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5]) == [0.5]


def test_clopper_pearson_is_scipy_exact():
    lo, hi = clopper_pearson_interval(380, 400)
    ci = stats.binomtest(380, 400).proportion_ci(method="exact")
    assert (lo, hi) == (ci.low, ci.high)


def test_whole_permutation_test_catches_a_wrong_joint_law_with_right_marginals():
    items = list("ABCD")
    rng = np.random.default_rng(11)
    reference = [list(rng.permutation(items)) for _ in range(10_000)]
    cyclic = [items[s:] + items[:s] for s in range(4)]  # every position uniform, only 4 of 24 orders
    agent = [cyclic[i % 4] for i in range(100)]
    out = permutation_test(agent, reference, k=4, draws=999, rng=np.random.default_rng(0))
    assert out.test == "perm_whole_chi2_mc" and out.pvalue <= 0.001
    uniform = [list(rng.permutation(items)) for _ in range(100)]
    assert permutation_test(uniform, reference, k=4, draws=999, rng=np.random.default_rng(0)).pvalue > 0.01


def test_large_permutations_use_the_documented_position_reduction():
    items = list("ABCDEFGH")
    rng = np.random.default_rng(12)
    reference = [list(rng.permutation(items)) for _ in range(5000)]
    agent = [list(rng.permutation(items)) for _ in range(100)]
    out = permutation_test(agent, reference, k=8, draws=499, rng=np.random.default_rng(0))
    assert out.test == "perm_position_chi2_mc_holm" and len(out.extra["position_pvalues"]) == 8
    assert out.pvalue == pytest.approx(min(holm_adjust(out.extra["position_pvalues"])))
    fixed_first = [["A"] + list(rng.permutation(items[1:])) for _ in range(100)]
    # Holm multiplies by k, so the MC resolution k / (draws + 1) must sit well below alpha
    assert permutation_test(fixed_first, reference, k=8, draws=1999, rng=np.random.default_rng(0)).pvalue < 0.01


def test_mcnemar_exact_is_binomtest_on_discordant_pairs():
    from stochbox.analysis.compare import mcnemar_exact

    assert mcnemar_exact(2, 9) == pytest.approx(stats.binomtest(2, 11, 0.5).pvalue)
    assert mcnemar_exact(0, 0) == 1.0
    assert mcnemar_exact(0, 6) == pytest.approx(2 * 0.5**6)


def test_paired_bootstrap_ci_covers_and_is_seeded():
    from stochbox.analysis.compare import paired_bootstrap_ci

    rng = np.random.default_rng(13)
    a = rng.random(60) < 0.5
    b = a | (rng.random(60) < 0.3)
    low, high = paired_bootstrap_ci(a, b, draws=4000, seed=1)
    diff = b.mean() - a.mean()
    assert low <= diff <= high and high - low < 0.3
    assert (low, high) == paired_bootstrap_ci(a, b, draws=4000, seed=1)
    # identical arms: a degenerate interval at 0
    assert paired_bootstrap_ci(a, a, draws=100, seed=1) == (0.0, 0.0)


def test_energy_reference_grows_with_n_and_stays_calibrated():
    from stochbox.evaluators.energy import reference_size

    assert [reference_size(n) for n in (10, 100, 300, 1000, 5000)] == [500, 500, 1500, 3000, 3000]
    rng = np.random.default_rng(8)
    reference = rng.standard_normal((10_000, 2))
    out = energy_perm(rng.standard_normal((300, 2)), reference, draws=99, rng=rng)
    assert out.extra["reference_used"] == 1500
    rejected = sum(
        energy_perm(g.standard_normal((300, 2)), reference, draws=99, rng=g).pvalue < 0.05
        for g in (np.random.default_rng([5, i]) for i in range(100))
    )
    assert rejected <= 12  # 100 oracle trials at 5%: > 12 rejections has probability < 0.003
