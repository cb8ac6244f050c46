"""ks_exact against full enumeration, exact integer path counting, a large Monte Carlo, scipy and R.

* enumeration: every split of the pooled sample (every ordering up to
  within-sample order), in rational arithmetic;
* path counting: the same lattice recursion in Python integers (no floating
  point at all), which reaches p-values of 1e-12 and below that enumeration
  cannot;
* Monte Carlo: the count-based conditional null with 400,000 draws;
* scipy's ``ks_2samp(method="exact")`` on tie-free data;
* R's ``ks.test(exact = TRUE)`` (psmirnov with ties, R >= 4.2): in
  ``test_ks_exact_r.py``.
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from stochbox.evaluators import ks_exact
from stochbox.evaluators.ks import ks_discrete_mc


def _scaled_stat(cx: list[int], cpool: list[int], n: int, m: int, alternative: str) -> int:
    """KS statistic times n*m over the pooled distinct values, in integers."""
    best, sx, sp = 0, 0, 0
    for a, c in zip(cx, cpool):
        sx, sp = sx + a, sp + c
        diff = sx * m - (sp - sx) * n
        v = abs(diff) if alternative == "two-sided" else (diff if alternative == "greater" else -diff)
        best = max(best, v)
    return best


def _enumerated_pvalue(x: np.ndarray, y: np.ndarray, alternative: str) -> Fraction:
    """P(D >= d_obs) over all C(n+m, n) equally likely splits of the pooled sample, exactly."""
    pool = np.concatenate([x, y])
    values = np.unique(pool)
    n, m = len(x), len(y)
    code = np.searchsorted(values, pool)
    cpool = np.bincount(code, minlength=len(values)).tolist()
    observed = _scaled_stat(np.bincount(code[:n], minlength=len(values)).tolist(), cpool, n, m, alternative)
    hits = total = 0
    for idx in itertools.combinations(range(n + m), n):
        cx = np.bincount(code[list(idx)], minlength=len(values)).tolist()
        total += 1
        hits += _scaled_stat(cx, cpool, n, m, alternative) >= observed
    return Fraction(hits, total)


def _path_count_pvalue(x: np.ndarray, y: np.ndarray, alternative: str = "two-sided") -> Fraction:
    """P(D >= d_obs) by counting lattice paths over the distinct values in exact integers.

    g(s) = number of ways to pick s of the x-sample's positions among the
    values passed so far without leaving the band; a path that leaves at
    boundary k is completed in C(remaining, n - s) ways.
    """
    pool = np.concatenate([x, y])
    values, code = np.unique(pool, return_inverse=True)
    n, m = len(x), len(y)
    t = n + m
    cpool = np.bincount(code, minlength=len(values)).tolist()
    d = _scaled_stat(np.bincount(code[:n], minlength=len(values)).tolist(), cpool, n, m, alternative)
    if d == 0:
        return Fraction(1)
    g = {0: 1}
    left, cum, out = t, 0, 0
    for c in cpool:
        new: dict[int, int] = {}
        for s, ways in g.items():
            for j in range(0, min(c, n - s) + 1):
                new[s + j] = new.get(s + j, 0) + ways * math.comb(c, j)
        left, cum = left - c, cum + c
        g = {}
        for s, ways in new.items():
            diff = s * t - cum * n  # (F_x - F_y) * n * m
            v = abs(diff) if alternative == "two-sided" else (diff if alternative == "greater" else -diff)
            if v >= d:
                out += ways * math.comb(left, n - s)
            else:
                g[s] = ways
    return Fraction(out, math.comb(t, n))


SMALL_TIED = [
    (np.array([1, 2, 2, 3, 3, 3]), np.array([2, 3, 4, 4, 4, 5, 1])),
    (np.array([0, 0, 0, 1]), np.array([1, 1, 1, 1, 2])),
    (np.array([5, 5, 5, 5]), np.array([5, 5, 6])),  # D = |F_x - F_y| at one atom
    (np.array([1.5, 1.5, 2.0]), np.array([1.5, 2.0, 2.0, 2.0, 7.0, 7.0, 7.0, 7.0])),
    (np.array([0, 1, 2, 3, 4, 5, 6]), np.array([0, 0, 0, 0, 0, 0, 1])),
]


@pytest.mark.parametrize("case", range(len(SMALL_TIED)))
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_small_tied_cases_equal_full_enumeration(case, alternative):
    x, y = SMALL_TIED[case]
    exact = _enumerated_pvalue(x, y, alternative)
    res = ks_exact(x, y, alternative=alternative)
    assert res.pvalue == pytest.approx(float(exact), rel=1e-12, abs=1e-15)
    # both samples' roles: the recursion runs over the smaller one
    swapped = {"two-sided": "two-sided", "greater": "less", "less": "greater"}[alternative]
    assert ks_exact(y, x, alternative=swapped).pvalue == pytest.approx(float(exact), rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("seed", range(8))
def test_random_small_tied_cases_equal_full_enumeration(seed):
    rng = np.random.default_rng(seed)
    n, m = int(rng.integers(2, 7)), int(rng.integers(2, 9))
    x = rng.integers(0, 4, n).astype(float)
    y = (rng.integers(0, 4, m) + seed % 2).astype(float)
    for alternative in ("two-sided", "greater", "less"):
        exact = _enumerated_pvalue(x, y, alternative)
        assert ks_exact(x, y, alternative=alternative).pvalue == pytest.approx(float(exact), rel=1e-12, abs=1e-15)


def test_statistic_and_location_match_scipy():
    rng = np.random.default_rng(3)
    x, y = rng.poisson(3, 57).astype(float), rng.poisson(3.4, 4000).astype(float)
    for alternative in ("two-sided", "greater", "less"):
        ours, ref = ks_exact(x, y, alternative=alternative), stats.ks_2samp(x, y, alternative=alternative)
        assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    ours, ref = ks_exact(x, y), stats.ks_2samp(x, y)
    assert ours.statistic_location == ref.statistic_location and ours.statistic_sign == ref.statistic_sign
    assert ours.distinct_values == len(np.unique(np.concatenate([x, y]))) and (ours.n, ours.m) == (57, 4000)


@pytest.mark.parametrize(
    "case",
    [
        ("bernoulli constant", np.ones(100), (np.random.default_rng(4).random(1000) < 0.8).astype(float)),
        ("poisson shifted", np.random.default_rng(5).poisson(3, 100).astype(float), np.random.default_rng(6).poisson(4.2, 1000).astype(float)),
        ("binomial far", np.random.default_rng(7).binomial(20, 0.3, 80).astype(float), np.random.default_rng(8).binomial(20, 0.5, 300).astype(float)),
    ],
    ids=lambda c: c[0],
)
def test_tiny_pvalues_match_exact_integer_path_counting(case):
    """Relative accuracy where 1 - P(inside) would have cancelled to nothing (p from 1e-7 to 1e-60)."""
    _, x, y = case
    exact = _path_count_pvalue(x, y)
    res = ks_exact(x, y)
    assert float(exact) < 1e-6
    assert res.pvalue == pytest.approx(float(exact), rel=1e-9)


def test_path_counting_reference_agrees_with_enumeration():
    """The integer reference used above is itself checked against enumeration."""
    for x, y in SMALL_TIED:
        for alternative in ("two-sided", "greater", "less"):
            assert _path_count_pvalue(x, y, alternative) == _enumerated_pvalue(x, y, alternative)


def test_pvalue_near_1e12_is_accurate():
    rng = np.random.default_rng(11)
    x = rng.binomial(10, 0.5, 100).astype(float)
    for shift in np.linspace(0.55, 0.75, 41):
        y = rng.binomial(10, shift, 2000).astype(float)
        exact = float(_path_count_pvalue(x, y))
        if 1e-13 < exact < 1e-11:
            break
    else:  # pragma: no cover - the sweep above is deterministic
        pytest.fail("no case near 1e-12 found")
    assert ks_exact(x, y).pvalue == pytest.approx(exact, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1])
def test_agrees_with_a_large_monte_carlo(seed):
    """400,000 draws of the count-based conditional null: ks_exact within 5 standard errors."""
    rng = np.random.default_rng(100 + seed)
    x = rng.binomial(12, 0.5, 100).astype(float)
    y = rng.binomial(12, 0.53, 3000).astype(float)
    p = ks_exact(x, y).pvalue
    draws = 400_000
    mc = ks_discrete_mc(x, y, draws=draws, rng=np.random.default_rng(seed)).pvalue
    assert 1e-3 < p < 0.999
    assert abs(mc - p) <= 5 * math.sqrt(p * (1 - p) / draws) + 2 / draws


@pytest.mark.parametrize("n,m", [(10, 15), (50, 60), (100, 300), (100, 10_000), (37, 1001)])
@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_equals_scipy_exact_without_ties(n, m, alternative):
    rng = np.random.default_rng(n * 7 + m)
    x, y = rng.normal(size=n), rng.normal(0.25, 1, size=m)
    ref = stats.ks_2samp(x, y, alternative=alternative, method="exact")
    ours = ks_exact(x, y, alternative=alternative)
    assert ours.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert ours.pvalue == pytest.approx(ref.pvalue, rel=1e-9, abs=1e-14)


def test_rectified_normal_null_rejects_at_alpha_where_ks_2samp_is_conservative(capsys):
    """Atoms at 0 plus a continuous part: exact rejection rate close to alpha; ks_2samp's is far below."""
    rng = np.random.default_rng(2026)
    alpha, trials, n, m = 0.05, 1500, 100, 500
    exact_rej = cont_rej = 0
    for _ in range(trials):
        x = np.maximum(rng.normal(size=n), 0.0)
        y = np.maximum(rng.normal(size=m), 0.0)
        exact_rej += ks_exact(x, y).pvalue < alpha
        cont_rej += stats.ks_2samp(x, y).pvalue < alpha
    rate, rate_cont = exact_rej / trials, cont_rej / trials
    with capsys.disabled():
        print(f"\nrectified normal null, N={n}, M={m}, {trials} trials: ks_exact {rate:.4f}, ks_2samp {rate_cont:.4f}")
    se = math.sqrt(alpha * (1 - alpha) / trials)
    assert abs(rate - alpha) <= 4 * se  # a valid, not conservative, test
    assert rate_cont < alpha - 2 * se  # the continuous p-value overstates with half the mass on one atom


def test_degenerate_and_bad_inputs():
    assert ks_exact([1, 1, 1], [1, 1]).pvalue == 1.0 and ks_exact([1, 1, 1], [1, 1]).statistic == 0.0
    assert ks_exact([0.0], [1.0]).pvalue == pytest.approx(1.0)
    with pytest.raises(ValueError, match="empty"):
        ks_exact([], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        ks_exact([np.nan], [1.0])
    with pytest.raises(ValueError, match="alternative"):
        ks_exact([1.0], [2.0], alternative="two_sided")


def test_large_samples_do_not_overflow():
    """Binomial coefficients up to C(11000, 1000) ~ 1e1400: the tilted convolution keeps them finite."""
    rng = np.random.default_rng(12)
    x, y = rng.poisson(5, 1000).astype(float), rng.poisson(5, 10_000).astype(float)
    res = ks_exact(x, y)
    mc = ks_discrete_mc(x, y, draws=20_000, rng=np.random.default_rng(1)).pvalue
    assert 0 < res.pvalue <= 1 and abs(res.pvalue - mc) <= 5 * math.sqrt(res.pvalue * (1 - res.pvalue) / 20_000) + 1e-4
