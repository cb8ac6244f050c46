"""The paper's scoring rules: routing per support, encodings, first N valid values, exact vs Monte Carlo."""

from __future__ import annotations

import math

import numpy as np
import pytest
from evalkit import draw
from scipy import stats

from stochbox.evaluators import evaluate_scenario, get_preset, ks_exact, ksn_curve
from stochbox.evaluators.unpredictabench import count_routed, lehmer_first_digit, lehmer_rank, slots_at_n
from stochbox.scenarios.models import Scenario

EXPECTED_TEST = {
    "normal-explicit": "ks_2samp_exact_codes",
    "die-roll": "ks_exact_codes",
    "weather-categorical": "ks_exact_codes",
    "dirichlet-3": "ks_2samp_exact_codes",
    "shuffle-abcd": "ks_exact_codes",
}


def _scenario(sid: str, support: str, fmt: dict, tags: list[str] | None = None) -> Scenario:
    return Scenario.model_validate(
        {"id": sid, "title": sid, "prompt": "p", "kind": "canonical", "support": support,
         "answer_format": fmt, "ground_truth": {"code": "print(1)"}, "tags": tags or []}
    )


@pytest.mark.parametrize("sid", sorted(EXPECTED_TEST))
def test_routing_and_the_oracle_passes(sid, canonical, references):
    sc, ref = canonical[sid], references[sid]
    res = evaluate_scenario(sc, draw(sid, 100, np.random.default_rng(5)), ref, model="oracle", mode="native",
                            preset=get_preset("unpredictabench"))
    assert res.test == EXPECTED_TEST[sid] and res.passed and res.pvalue > 1e-4
    assert res.extra["rule"] == "UnpredictaBench e0f7108"


def test_constant_bernoulli_flips_between_the_old_and_the_current_rule():
    """The issue's example: Bernoulli(0.8), constant answer 1, N = 100."""
    sc = _scenario("bern", "discrete", {"type": "integer"})
    reference = (np.random.default_rng(0).random(10_000) < 0.8).astype(int).tolist()
    answers = [1] * 100
    old = evaluate_scenario(sc, answers, reference, model="c", mode="native", preset=get_preset("unpredictabench-v1"))
    new = evaluate_scenario(sc, answers, reference, model="c", mode="native", preset=get_preset("unpredictabench"))
    assert old.passed and 1e-4 < old.pvalue < 2e-3  # continuous KS: ~5e-4
    assert not new.passed and new.pvalue < 1e-4  # the conditional null: ~1e-6
    assert new.pvalue == ks_exact(answers, reference).pvalue
    assert old.pvalue == stats.ks_2samp(answers, reference).pvalue


def test_paper_monte_carlo_preset_agrees_with_the_exact_limit():
    """unpredictabench-mc draws the paper's 10^6 allocations; ks_exact is its limit (5 standard errors)."""
    sc = _scenario("binom", "discrete", {"type": "integer"})
    g = np.random.default_rng(1)
    reference = g.binomial(8, 0.5, 10_000).tolist()
    answers = g.binomial(8, 0.56, 30).tolist()
    exact = evaluate_scenario(sc, answers, reference, model="m", mode="native", preset=get_preset("unpredictabench"))
    mc = evaluate_scenario(sc, answers, reference, model="m", mode="native", preset=get_preset("unpredictabench-mc"))
    assert mc.test == "ks_perm_mc_codes" and mc.extra["draws"] == 10**6
    assert mc.statistic == exact.statistic and 1e-3 < exact.pvalue < 0.99
    assert abs(mc.pvalue - exact.pvalue) <= 5 * math.sqrt(exact.pvalue * (1 - exact.pvalue) / 10**6) + 2e-6


def test_first_n_valid_values_under_the_papers_rules_first_n_slots_under_stochbox():
    sc = _scenario("die", "discrete", {"type": "integer"})
    samples = [None, "x", 3, 4, None, 5, 6, 1, 2]
    assert slots_at_n(samples, 4, sc, get_preset("unpredictabench")) == [3, 4, 5, 6]
    assert slots_at_n(samples, 4, sc, get_preset("unpredictabench-mc")) == [3, 4, 5, 6]
    assert slots_at_n(samples, 4, sc, get_preset("unpredictabench-v1")) == [3, 4, 5, 6]
    assert slots_at_n(samples, 4, sc, get_preset()) == [None, "x", 3, 4]
    assert slots_at_n(samples, 8, sc, get_preset("unpredictabench")) == [3, 4, 5, 6, 1, 2, None, None]


def test_ksn_curve_scores_the_first_n_valid_values():
    sc = _scenario("die", "discrete", {"type": "integer"})
    reference = np.random.default_rng(2).integers(1, 7, 10_000).tolist()
    good = np.random.default_rng(3).integers(1, 7, 10).tolist()
    samples = {"die": [None] * 5 + good}
    ((summary, (res,)),) = ksn_curve([sc], samples, {"die": reference}, model="m", mode="native",
                                     preset=get_preset("unpredictabench"), ns=[10])
    assert res.n == 10 and res.n_valid == 10 and res.pvalue == ks_exact(good, reference).pvalue
    ((_, (old,)),) = ksn_curve([sc], samples, {"die": reference}, model="m", mode="native",
                               preset=get_preset("unpredictabench-v1"), ns=[10])
    assert old.n_valid == 10 and old.pvalue == stats.ks_2samp(good, reference).pvalue
    ((_, (ours,)),) = ksn_curve([sc], samples, {"die": reference}, model="m", mode="native", preset=get_preset(), ns=[10])
    assert ours.n_valid == 5 and not ours.passed  # stochbox counts the missing answers against the model


def test_orderings_are_encoded_by_their_first_lehmer_digit_relative_to_the_first_reference(canonical, references):
    assert lehmer_first_digit(["C", "A", "B", "D"], ["A", "B", "C", "D"]) == 2
    assert lehmer_first_digit(["C", "A", "B", "D"], ["C", "D", "A", "B"]) == 0
    assert lehmer_first_digit([2.0, 1, 3], [1, 2, 3]) == 1  # numbers compare as numbers
    assert lehmer_rank(["D", "C", "B", "A"], ["A", "B", "C", "D"]) == 23
    sc, ref = canonical["shuffle-abcd"], references["shuffle-abcd"]
    answers = [list(ref[0])] * 50  # always the first reference ordering: its first item, code 0
    res = evaluate_scenario(sc, answers, ref, model="c", mode="native", preset=get_preset("unpredictabench"))
    codes_ref = [lehmer_first_digit(r, ref[0]) for r in ref]
    assert res.pvalue == ks_exact([0.0] * 50, codes_ref).pvalue and not res.passed


def test_labels_of_the_papers_code_tasks_take_the_continuous_exact_ks():
    fmt = {"type": "label", "labels": ["a", "b", "c"]}
    realworld = _scenario("rw", "categorical", fmt, ["group:realworld_human"])
    code_task = _scenario("ct", "categorical", fmt, ["group:code_explicit_concentrated"])
    assert count_routed(realworld) and not count_routed(code_task)
    g = np.random.default_rng(4)
    reference = g.choice(["a", "b", "c"], 5000).tolist()
    answers = g.choice(["a", "b", "c"], 40).tolist()
    res = evaluate_scenario(code_task, answers, reference, model="m", mode="native", preset=get_preset("unpredictabench"))
    codes = {"a": 0, "b": 1, "c": 2}
    expected = stats.ks_2samp([codes[v] for v in reference], [codes[v] for v in answers], method="exact")
    assert res.test == "ks_2samp_exact_codes" and res.pvalue == pytest.approx(expected.pvalue, rel=1e-12)
