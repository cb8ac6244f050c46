"""Checks every scenario of every built-in pack must pass (issue 5).

For each scenario: the file validates and is tagged; its ground truth runs in
the sandbox within its time limit and keeps the output contract; it is
deterministic under a seed and differs across seeds; its raw output matches
the declared support and answer format exactly (JSON ints for integers, labels
from the declared set, vectors of the declared dimension, permutations of the
items); and, for canonical scenarios, 5,000 draws pass a goodness-of-fit test
at ``ALPHA`` (fixed seeds, so the outcome is the same on every run) against the
scipy distribution in ``reference`` or, for the few laws scipy has no single
form for (point mass plus a continuous part, mixtures), against the law
written out in ``STATED_LAWS``.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scenario_fit import FitCheck, ks_check, reference_fit
from scenario_library import library_params
from scipy import stats

from stochbox.scenarios import Kind, Scenario, Support, builtin_pack_names, validate_path
from stochbox.scenarios.registry import BUILTIN_DIR
from stochbox.scenarios.samples import coerce_sample
from stochbox.reference.truth import parse_samples

ALPHA = 1e-3
ALL = library_params()
CANONICAL_WITH_REFERENCE = [p for p in ALL if p.values[0].kind is Kind.canonical and p.values[0].reference]


# ---------------------------------------------------------------- files


@pytest.mark.parametrize("pack", builtin_pack_names())
def test_pack_validates(pack: str) -> None:
    errors = validate_path(BUILTIN_DIR / pack)
    assert not errors, "\n".join(map(str, errors))


def test_ids_are_unique_across_packs() -> None:
    counts = Counter(p.values[0].id for p in ALL)
    assert not [i for i, c in counts.items() if c > 1]


@pytest.mark.parametrize("scenario", ALL)
def test_tags_name_kind_family_wording_support(scenario: Scenario) -> None:
    tags = set(scenario.tags)
    assert f"kind:{scenario.kind.value}" in tags
    assert f"support:{scenario.support.value}" in tags
    keys = {t.split(":", 1)[0] for t in tags}
    assert {"family", "wording"} <= keys, f"missing family:/wording: tags in {sorted(tags)}"
    assert tags & {"wording:explicit", "wording:implicit"}


# ---------------------------------------------------------------- ground truth in the sandbox


@pytest.mark.parametrize("scenario", ALL)
def test_ground_truth_runs_within_its_time_limit(scenario: Scenario, library_runs) -> None:
    runs = library_runs.get(scenario)
    run, n = runs.first, runs.n
    assert run.problem is None, run.problem
    assert run.result.duration_s <= scenario.ground_truth.timeout_s
    samples = parse_samples(scenario, run.result, n)  # the truth contract (raises TruthError)
    assert len(samples) == n


@pytest.mark.parametrize("scenario", ALL)
def test_ground_truth_is_deterministic_under_a_seed(scenario: Scenario, library_runs) -> None:
    runs = library_runs.get(scenario)
    assert runs.first.problem is None and runs.again.problem is None and runs.other.problem is None
    assert runs.first.values == runs.again.values, "same seed gave different samples"
    assert runs.first.values[: len(runs.other.values)] != runs.other.values, "different seeds gave identical samples"


def _raw_sample_problem(scenario: Scenario, value) -> str | None:
    """Why ``value`` (decoded JSON, before coercion) is not a sample of the declared shape, or None."""
    fmt = scenario.answer_format
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if scenario.support is Support.continuous:
        ok = (is_int or isinstance(value, float)) and math.isfinite(value)
        return None if ok else f"not a finite number: {value!r}"
    if scenario.support is Support.discrete:
        return None if is_int else f"not a JSON integer: {value!r}"
    if scenario.support is Support.categorical:
        return None if value in (fmt.labels or []) else f"not one of the labels {fmt.labels}: {value!r}"
    if scenario.support is Support.multivariate:
        if not isinstance(value, list) or len(value) != scenario.dimension:
            return f"not a vector of dimension {scenario.dimension}: {value!r}"
        want_int = fmt.element == "integer"
        for x in value:
            x_int = isinstance(x, int) and not isinstance(x, bool)
            if want_int and not x_int or not want_int and not (x_int or isinstance(x, float)):
                return f"element {x!r} is not {'an integer' if want_int else 'a number'}"
        return None
    items = fmt.items or []
    if not isinstance(value, list) or sorted(map(str, value)) != sorted(map(str, items)):
        return f"not a permutation of {items}: {value!r}"
    return None if [type(x) for x in sorted(value, key=str)] == [type(x) for x in sorted(items, key=str)] else (
        f"items have the wrong JSON types: {value!r}"
    )


@pytest.mark.parametrize("scenario", ALL)
def test_samples_match_declared_support_and_format(scenario: Scenario, library_runs) -> None:
    run = library_runs.get(scenario).first
    assert run.problem is None, run.problem
    assert isinstance(run.values, list)
    problems = [p for v in run.values if (p := _raw_sample_problem(scenario, v))]
    assert not problems, f"{len(problems)} bad samples, e.g. {problems[0]}"
    for v in run.values[:50]:
        coerce_sample(v, scenario.answer_format)
    if scenario.support is Support.continuous:
        # Heavy rounding shows as many repeated values; a few atoms (point masses) are fine.
        repeated = [v for v, c in Counter(run.values).items() if c > 1]
        assert len(repeated) <= 5, f"{len(repeated)} distinct values repeat: continuous output looks rounded"


@pytest.mark.parametrize("scenario", CANONICAL_WITH_REFERENCE)
def test_canonical_ground_truth_fits_its_reference(scenario: Scenario, library_runs) -> None:
    runs = library_runs.get(scenario)
    run, n = runs.first, runs.n
    assert run.problem is None, run.problem
    checks = reference_fit(scenario, parse_samples(scenario, run.result, n))
    failed = [c for c in checks if not c.pvalue > ALPHA]
    assert not failed, "; ".join(f"{c.what}: statistic {c.statistic:.4g}, p = {c.pvalue:.3g}" for c in failed)


def _atom_and_rest(x: np.ndarray, atom: float, p_atom: float, rest_cdf) -> list[FitCheck]:
    """Mixed law: the atom's frequency (exact binomial test) and KS of the continuous part."""
    at = np.isclose(x, atom, rtol=0, atol=1e-12)
    freq = stats.binomtest(int(at.sum()), len(x), p_atom)
    return [FitCheck("atom frequency", float(at.mean()), float(freq.pvalue)), ks_check("continuous part", x[~at], rest_cdf)]


class _Cdf:
    def __init__(self, cdf) -> None:
        self.cdf = cdf


# Canonical scenarios whose law has no single scipy.stats form: their stated law, checked here.
STATED_LAWS = {
    "zero-inflated-exponential-explicit": lambda x: _atom_and_rest(x, 0.0, 0.3, stats.expon(scale=5)),
    "censored-lifetime-implicit": lambda x: _atom_and_rest(
        x, 15.0, math.exp(-1.5), _Cdf(lambda v: stats.expon(scale=10).cdf(v) / stats.expon(scale=10).cdf(15))
    ),
    "normal-mixture-explicit": lambda x: [
        ks_check("KS", x, _Cdf(lambda v: 0.3 * stats.norm(-2, 0.5).cdf(v) + 0.7 * stats.norm(3, 1).cdf(v)))
    ],
    "exponential-mixture-implicit": lambda x: [
        ks_check("KS", x, _Cdf(lambda v: 0.8 * stats.expon(scale=1).cdf(v) + 0.2 * stats.expon(scale=10).cdf(v)))
    ],
}
CANONICAL_WITHOUT_REFERENCE = [p for p in ALL if p.values[0].kind is Kind.canonical and not p.values[0].reference]


@pytest.mark.parametrize("scenario", CANONICAL_WITHOUT_REFERENCE)
def test_canonical_ground_truth_without_reference_fits_its_stated_law(scenario: Scenario, library_runs) -> None:
    assert scenario.id in STATED_LAWS, "a canonical scenario needs a scipy reference or a law in STATED_LAWS"
    runs = library_runs.get(scenario)
    run, n = runs.first, runs.n
    assert run.problem is None, run.problem
    checks = STATED_LAWS[scenario.id](np.asarray(parse_samples(scenario, run.result, n), dtype=float))
    failed = [c for c in checks if not c.pvalue > ALPHA]
    assert not failed, "; ".join(f"{c.what}: statistic {c.statistic:.4g}, p = {c.pvalue:.3g}" for c in failed)


# ---------------------------------------------------------------- what the canonical pack covers


def test_canonical_pack_covers_the_families_issue_5_asks_for() -> None:
    canonical = [p.values[0] for p in ALL if p.values[0].pack == "canonical"]
    assert len(canonical) >= 50
    tags = Counter(t for s in canonical for t in s.tags)
    for support in Support:
        assert tags[f"support:{support.value}"] >= 3, support
    for rng in ("range:bounded", "range:half-line", "range:real-line", "range:finite", "range:infinite"):
        assert tags[rng] >= 4, rng
    for family in (
        "uniform", "beta", "triangular", "truncated-normal", "exponential", "gamma", "lognormal", "weibull",
        "chi-square", "pareto", "normal", "student-t", "laplace", "logistic", "cauchy", "gumbel", "binomial",
        "hypergeometric", "uniform-discrete", "dice-sum", "poisson", "geometric", "negative-binomial", "zipf",
        "dirichlet", "multinomial", "multivariate-normal", "categorical", "uniform-permutation",
    ):
        assert tags[f"family:{family}"] >= 1, family
    assert tags["mixed:point-mass"] >= 2
    assert sum(1 for s in canonical if "mixture" in next(t for t in s.tags if t.startswith("family:"))) >= 2
    assert tags["wording:explicit"] >= 20 and tags["wording:implicit"] >= 20
    assert tags["spread:concentrated"] >= 8 and tags["spread:spread-out"] >= 8
    with_reference = [s for s in canonical if s.reference is not None]
    assert len(with_reference) >= 0.85 * len(canonical)


@pytest.mark.parametrize("scenario", [p for p in ALL if p.values[0].pack == "canonical"])
def test_canonical_prompt_says_what_an_answer_looks_like(scenario: Scenario) -> None:
    assert "answer with" in " ".join(scenario.prompt.lower().split())
