"""Goodness of fit of ground-truth samples against a scenario's ``reference`` (scipy.stats).

How samples meet the reference distribution:

* continuous: one-sample Kolmogorov-Smirnov against the reference cdf;
* discrete: chi-square on counts per value, tails pooled and neighbouring
  values merged until every cell expects at least 5 draws;
* categorical: a label is coded by its index in ``answer_format.labels``;
  permutation: by its index in ``itertools.permutations(items)``; the codes are
  then tested like a discrete scenario (references are e.g. ``randint`` or
  ``rv_discrete`` over the codes);
* multivariate: ``dirichlet`` (components vs their beta marginals, rows sum to 1),
  ``multinomial`` (components vs binomial marginals, rows sum to n) and
  ``multivariate_normal`` (components vs normal marginals and one fixed
  projection, which catches a wrong covariance). Other multivariate
  references have no rule here and are reported as such.

Every check returns a :class:`FitCheck` with ``statistic`` and ``pvalue``;
the caller decides the level.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from stochbox.scenarios import Scenario, Support

MIN_EXPECTED = 5.0


@dataclass(frozen=True)
class FitCheck:
    what: str
    statistic: float
    pvalue: float


def frozen_reference(scenario: Scenario) -> Any:
    ref = scenario.reference
    assert ref is not None
    return getattr(stats, ref.dist)(*ref.args, **ref.kwds)


def ks_check(what: str, x: np.ndarray, dist: Any) -> FitCheck:
    res = stats.kstest(x, dist.cdf)
    return FitCheck(what, float(res.statistic), float(res.pvalue))


def _merge_small_cells(expected: list[float], observed: list[int]) -> tuple[np.ndarray, np.ndarray]:
    exp_out: list[float] = []
    obs_out: list[int] = []
    acc_e, acc_o = 0.0, 0
    for e, o in zip(expected, observed):
        acc_e, acc_o = acc_e + e, acc_o + o
        if acc_e >= MIN_EXPECTED:
            exp_out.append(acc_e)
            obs_out.append(acc_o)
            acc_e, acc_o = 0.0, 0
    if acc_e > 0 or acc_o > 0:  # what is left joins the last cell
        if exp_out:
            exp_out[-1] += acc_e
            obs_out[-1] += acc_o
        else:
            exp_out.append(acc_e)
            obs_out.append(acc_o)
    return np.asarray(exp_out), np.asarray(obs_out)


def chi_square_check(what: str, x: np.ndarray, dist: Any) -> FitCheck:
    """Chi-square of integer draws ``x`` against a scipy discrete distribution (tails pooled)."""
    x = np.asarray(x, dtype=np.int64)
    values = np.unique(x)
    outside = values[dist.pmf(values) <= 0]
    if outside.size:
        return FitCheck(f"{what}: values outside the reference support {outside[:5].tolist()}", math.inf, 0.0)
    n = len(x)
    lo_support, hi_support = dist.support()
    lo = int(max(lo_support, dist.ppf(1e-4)))
    hi = int(min(hi_support, dist.ppf(1 - 1e-4)))
    if hi <= lo:  # (almost) all mass on one value: nothing to compare
        return FitCheck(f"{what}: degenerate", 0.0, 1.0)
    ks = np.arange(lo + 1, hi)
    expected = [dist.cdf(lo) * n, *(dist.pmf(ks) * n), dist.sf(hi - 1) * n]
    observed = [int((x <= lo).sum()), *(int((x == k).sum()) for k in ks), int((x >= hi).sum())]
    exp, obs = _merge_small_cells(expected, observed)
    if len(exp) < 2:
        return FitCheck(f"{what}: one cell", 0.0, 1.0)
    stat = float(((obs - exp) ** 2 / exp).sum())
    return FitCheck(what, stat, float(stats.chi2.sf(stat, len(exp) - 1)))


def _exact(what: str, ok: bool) -> FitCheck:
    return FitCheck(what, 0.0 if ok else math.inf, 1.0 if ok else 0.0)


def _multivariate_checks(scenario: Scenario, x: np.ndarray, dist: Any) -> list[FitCheck]:
    name = scenario.reference.dist  # type: ignore[union-attr]
    checks: list[FitCheck] = []
    if name == "dirichlet":
        alpha = np.asarray(dist.alpha, dtype=float)
        checks.append(_exact("rows sum to 1", bool(np.allclose(x.sum(axis=1), 1.0, atol=1e-6))))
        for i, a in enumerate(alpha):
            checks.append(ks_check(f"component {i} ~ beta", x[:, i], stats.beta(a, alpha.sum() - a)))
    elif name == "multinomial":
        checks.append(_exact(f"rows sum to n={dist.n}", bool((x.sum(axis=1) == dist.n).all())))
        for i, p in enumerate(np.asarray(dist.p, dtype=float)):
            checks.append(chi_square_check(f"component {i} ~ binomial", x[:, i], stats.binom(dist.n, p)))
    elif name == "multivariate_normal":
        mean, cov = np.asarray(dist.mean, dtype=float), np.asarray(dist.cov, dtype=float)
        for i in range(len(mean)):
            checks.append(ks_check(f"component {i} ~ normal", x[:, i], stats.norm(mean[i], math.sqrt(cov[i, i]))))
        w = np.array([(-1.0) ** i * (i + 1) for i in range(len(mean))])  # mixes signs: sensitive to covariances
        checks.append(ks_check("projection ~ normal", x @ w, stats.norm(w @ mean, math.sqrt(w @ cov @ w))))
    else:
        checks.append(FitCheck(f"no goodness-of-fit rule for multivariate reference '{name}'", math.inf, 0.0))
    return checks


def reference_fit(scenario: Scenario, samples: list[Any]) -> list[FitCheck]:
    """All goodness-of-fit checks of ``samples`` (coerced by the answer format) against the reference."""
    dist = frozen_reference(scenario)
    fmt = scenario.answer_format
    if scenario.support is Support.continuous:
        return [ks_check("KS", np.asarray(samples, dtype=float), dist)]
    if scenario.support is Support.discrete:
        return [chi_square_check("chi-square", np.asarray(samples), dist)]
    if scenario.support is Support.categorical:
        index = {label: i for i, label in enumerate(fmt.labels or [])}
        return [chi_square_check("chi-square on label index", np.array([index[s] for s in samples]), dist)]
    if scenario.support is Support.permutation:
        index = {tuple(map(str, p)): i for i, p in enumerate(itertools.permutations(fmt.items or []))}
        codes = np.array([index[tuple(map(str, s))] for s in samples])
        return [chi_square_check("chi-square on permutation index", codes, dist)]
    return _multivariate_checks(scenario, np.asarray(samples, dtype=float), dist)
