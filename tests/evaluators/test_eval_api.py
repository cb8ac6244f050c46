"""evaluate_scenario / summarize: the contract `stochbox report` relies on."""

from __future__ import annotations

import numpy as np
import pytest
from evalkit import draw

from stochbox.evaluators import evaluate_scenario, get_preset, ksn_curve, summarize

SUPPORT_TEST = {
    "normal-explicit": "ks_2samp",
    "die-roll": "ks_exact",
    "weather-categorical": "chi2_mc",
    "dirichlet-3": "energy_perm",
    "shuffle-abcd": "perm_whole_chi2_mc",
}


@pytest.mark.parametrize("sid", sorted(SUPPORT_TEST))
def test_oracle_passes_constant_fails_and_test_follows_support(sid, canonical, references):
    sc, ref = canonical[sid], references[sid]
    good = draw(sid, 100, np.random.default_rng(7))
    ok = evaluate_scenario(sc, good, ref, model="m", mode="native", preset=get_preset())
    assert ok.test == SUPPORT_TEST[sid]
    assert ok.n == ok.n_valid == 100 and ok.alpha == 0.05 and ok.preset == "stochbox"
    assert ok.effect, "every result carries an effect size"
    const = evaluate_scenario(sc, [good[0]] * 100, ref, model="m", mode="native", preset=get_preset())
    assert not const.passed and const.pvalue <= 1e-3


def test_missing_samples_fail_under_default_and_are_dropped_by_unpredictabench(canonical, references):
    sc, ref = canonical["normal-explicit"], references["normal-explicit"]
    samples = draw("normal-explicit", 100, np.random.default_rng(3))
    samples[5] = None
    samples[17] = "not a number"
    res = evaluate_scenario(sc, samples, ref, model="m", mode="native", preset=get_preset())
    assert res.n == 100 and res.n_valid == 98 and not res.passed
    assert "fewer than N valid" in res.reason
    assert res.pvalue > 0.05  # the test itself would have passed; the missing answers fail it
    ub = evaluate_scenario(sc, samples, ref, model="m", mode="native", preset=get_preset("unpredictabench"))
    assert ub.passed and ub.n_valid == 98 and ub.alpha == 1e-4 and ub.preset == "unpredictabench"


def test_no_valid_samples(canonical, references):
    res = evaluate_scenario(canonical["die-roll"], [None] * 10, references["die-roll"], model="m", mode="tool", preset=get_preset())
    assert not res.passed and res.n_valid == 0 and res.pvalue is None


def test_deterministic(canonical, references):
    sc, ref = canonical["die-roll"], references["die-roll"]
    samples = draw("die-roll", 30, np.random.default_rng(1))
    a = evaluate_scenario(sc, samples, ref, model="m", mode="native", preset=get_preset())
    b = evaluate_scenario(sc, samples, ref, model="m", mode="native", preset=get_preset())
    assert a.model_dump_json() == b.model_dump_json()


def test_summarize_wilson(canonical, references):
    results = []
    for i, sid in enumerate(sorted(canonical)):
        s = draw(sid, 30, np.random.default_rng(i))
        if i % 2:
            s = [s[0]] * 30
        results.append(evaluate_scenario(canonical[sid], s, references[sid], model="m", mode="native", preset=get_preset()))
    summary = summarize(results, parse_rate=1.0)
    assert summary.scenarios == 5 and summary.passed == sum(r.passed for r in results)
    assert summary.ks_at_n == summary.passed / 5
    assert summary.ci_low <= summary.ks_at_n <= summary.ci_high
    # Wilson interval for 2/5 at 95%: known values (0.1176, 0.7693)
    if summary.passed == 2:
        assert summary.ci_low == pytest.approx(0.1176, abs=1e-3) and summary.ci_high == pytest.approx(0.7693, abs=1e-3)
    with pytest.raises(ValueError):
        summarize([results[0], results[1].model_copy(update={"mode": "tool"})], parse_rate=1.0)


def test_wilson_known_values():
    from stochbox.evaluators.intervals import wilson_interval

    low, high = wilson_interval(2, 5)
    assert low == pytest.approx(0.1176, abs=1e-4) and high == pytest.approx(0.7693, abs=1e-3)
    assert wilson_interval(0, 10)[0] == 0.0 and wilson_interval(10, 10)[1] == pytest.approx(1.0)


def test_ksn_curve_uses_prefixes(canonical, references):
    scs = [canonical["normal-explicit"], canonical["die-roll"]]
    rng = np.random.default_rng(11)
    samples = {sc.id: draw(sc.id, 100, rng) for sc in scs}
    curve = ksn_curve(scs, samples, references, model="m", mode="native", preset=get_preset(), ns=(10, 30, 100, 300))
    assert [s.n for s, _ in curve] == [10, 30, 100]
    direct = evaluate_scenario(scs[1], samples["die-roll"][:30], references["die-roll"], model="m", mode="native", preset=get_preset())
    assert curve[1][1][1] == direct
