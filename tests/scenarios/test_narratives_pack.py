"""Checks specific to the ``narratives`` pack: each ground truth encodes the model its words state.

The library-wide checks (validation, sandbox runs, determinism, output
format) live in ``test_scenario_library.py``. Here:

* the pack's shape: at least 50 narratives with ``narr-`` ids, every kind of
  support, modelling notes and a topic on each, and a prompt that names what
  one answer looks like (every label, every item of a permutation);
* the model check: ``N_DRAWS`` draws of every ground truth fit the model that
  the prompt and notes describe, at ``ALPHA`` (fixed seeds, so the outcome never
  changes). Where a scenario carries a scipy ``reference`` the draws are tested
  against it; otherwise against an exact distribution derived *here*,
  independently of the program (enumeration, recursion or a closed-form cdf).
  Every narrative has one or the other.

The programs run in :class:`UnsafeSubprocessSandbox` on purpose: they are this
pack's own reviewed code, never model output, and Debian's ``/usr/bin/python3``
(where present) is the runtime the real sandbox image uses.
"""

from __future__ import annotations

import functools
import itertools
import math
import os
import sys
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from scenario_fit import FitCheck, chi_square_check, ks_check, reference_fit
from scipy import integrate, stats

from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox
from stochbox.scenarios import Scenario, Support, get_pack
from stochbox.seeding import derive_seed
from stochbox.reference.truth import generate_samples

ALPHA = 1e-3
N_DRAWS = 4000
PACK = get_pack("narratives")
BY_ID = {sc.id: sc for sc in PACK.scenarios}
SCENARIOS = [pytest.param(sc, id=sc.id) for sc in PACK.scenarios]


# ---------------------------------------------------------------- exact models derived here


def _discrete(values: Any, probs: Any) -> Any:
    probs = np.asarray(probs, dtype=float)
    return stats.rv_discrete(values=(np.asarray(values), probs / probs.sum()))


def _labels_fit(sc: Scenario, x: list[Any], probs: dict[str, float]) -> list[FitCheck]:
    labels = sc.answer_format.labels or []
    codes = np.array([labels.index(s) for s in x])
    return [chi_square_check("chi-square on label index", codes, _discrete(range(len(labels)), [probs[lab] for lab in labels]))]


def _perms_fit(sc: Scenario, x: list[Any], prob_of: Callable[[tuple], float]) -> list[FitCheck]:
    perms = list(itertools.permutations(sc.answer_format.items or []))
    index = {p: i for i, p in enumerate(perms)}
    codes = np.array([index[tuple(s)] for s in x])
    return [chi_square_check("chi-square on permutation index", codes, _discrete(range(len(perms)), [prob_of(p) for p in perms]))]


def _cdf(f: Callable[[np.ndarray], np.ndarray]) -> Any:
    return SimpleNamespace(cdf=f)


def _atom_at_zero(x: list[float], p_zero: float, positive: Any) -> list[FitCheck]:
    """Mixed laws: the share of zeros (binomial test) and the positive part (KS)."""
    arr = np.asarray(x, dtype=float)
    zeros = int((arr == 0).sum())
    res = stats.binomtest(zeros, len(arr), p_zero)
    return [FitCheck("share of zeros", zeros / len(arr), float(res.pvalue)), ks_check("positive part", arr[arr > 0], positive)]


def _plackett_luce(weights: dict[str, float]) -> Callable[[tuple], float]:
    def prob(order: tuple) -> float:
        p, left = 1.0, sum(weights.values())
        for item in order:
            p *= weights[item] / left
            left -= weights[item]
        return p

    return prob


def _poker(sc: Scenario, x: list[Any]) -> list[FitCheck]:
    c = math.comb
    no_run = c(13, 5) - 10  # rank sets that are not straights
    counts = {
        "high-card": no_run * (4**5 - 4),
        "one-pair": 13 * c(4, 2) * c(12, 3) * 4**3,
        "two-pair": c(13, 2) * c(4, 2) ** 2 * 11 * 4,
        "three-of-a-kind": 13 * 4 * c(12, 2) * 4**2,
        "straight": 10 * (4**5 - 4),
        "flush": 4 * no_run,
        "full-house": 13 * 4 * 12 * c(4, 2),
        "four-of-a-kind": 13 * 48,
        "straight-flush": 10 * 4,
    }
    assert sum(counts.values()) == c(52, 5)
    return _labels_fit(sc, x, {k: v / c(52, 5) for k, v in counts.items()})


_CARD = {v: 1 / 13 for v in range(1, 10)} | {10: 4 / 13}  # infinite deck, ace = 1


@functools.cache
def _dealer_from(hard: int, ace: bool) -> dict[str, float]:
    best = hard + 10 if ace and hard + 10 <= 21 else hard
    if best >= 17:
        return {"bust" if best > 21 else str(best): 1.0}
    out: dict[str, float] = {}
    for v, p in _CARD.items():
        for k, q in _dealer_from(hard + v, ace or v == 1).items():
            out[k] = out.get(k, 0.0) + p * q
    return out


def _two_cards() -> Any:
    pmf: dict[int, float] = {}
    for (a, pa), (b, pb) in itertools.product(_CARD.items(), repeat=2):
        total = a + b + (10 if 1 in (a, b) else 0)
        pmf[total] = pmf.get(total, 0.0) + pa * pb
    return _discrete(list(pmf), list(pmf.values()))


def _monopoly() -> Any:
    pmf: dict[int, float] = {}
    rolls = list(itertools.product(range(1, 7), repeat=2))
    for r1, r2, r3 in itertools.product(rolls, repeat=3):
        moved = 0
        for i, r in enumerate((r1, r2, r3)):
            if i == 2 and r[0] == r[1]:
                break  # third doubles: straight to jail without moving
            moved += sum(r)
            if r[0] != r[1]:
                break
        pmf[moved] = pmf.get(moved, 0.0) + 1 / 36**3
    return _discrete(list(pmf), list(pmf.values()))


def _largest_group() -> Any:
    pmf = np.zeros(6)
    for dice in itertools.product(range(6), repeat=5):
        pmf[max(dice.count(f) for f in range(6))] += 1
    return _discrete(range(1, 6), pmf[1:])


def _tennis(sc: Scenario, x: list[Any]) -> list[FitCheck]:
    p = 0.6
    probs = {}
    for k in range(3):  # the loser's sets
        probs[f"3-{k}"] = math.comb(2 + k, k) * p**3 * (1 - p) ** k
        probs[f"{k}-3"] = math.comb(2 + k, k) * (1 - p) ** 3 * p**k
    return _labels_fit(sc, x, probs)


def _shootout(sc: Scenario, x: list[Any]) -> list[FitCheck]:
    a, b = stats.binom(5, 0.8), stats.binom(5, 0.7)
    ahead = sum(a.pmf(i) * b.cdf(i - 1) for i in range(6))
    level = sum(a.pmf(i) * b.pmf(i) for i in range(6))
    sudden = 0.8 * 0.3 / (0.8 * 0.3 + 0.2 * 0.7)
    p_a = ahead + level * sudden
    return _labels_fit(sc, x, {"team-a": p_a, "team-b": 1 - p_a})


def _t20_over() -> Any:
    ball = np.zeros(7)
    for runs, p in zip([0, 1, 2, 3, 4, 6], [0.36, 0.37, 0.09, 0.01, 0.11, 0.06]):
        ball[runs] = p
    legal = functools.reduce(np.convolve, [ball] * 6)
    total = np.convolve(legal, stats.nbinom(6, 0.96).pmf(np.arange(40)))
    return _discrete(range(len(total)), total)


def _swim(x: list[Any]) -> list[FitCheck]:
    means, sd = {"Ada": 52.1, "Bea": 52.4, "Cleo": 52.9, "Dana": 53.5}, 0.6

    def p_first(name: str) -> float:
        others = [m for n, m in means.items() if n != name]
        f = lambda t: stats.norm.pdf(t, means[name], sd) * np.prod([stats.norm.sf(t, m, sd) for m in others])  # noqa: E731
        return integrate.quad(f, 45, 60)[0]

    names = list(means)
    first = np.array([names.index(order[0]) for order in x])
    ada_before_bea = sum(order.index("Ada") < order.index("Bea") for order in x)
    pair = stats.binomtest(ada_before_bea, len(x), stats.norm.cdf(0.3 / (sd * math.sqrt(2))))
    return [
        chi_square_check("winner", first, _discrete(range(4), [p_first(n) for n in names])),
        FitCheck("Ada before Bea", ada_before_bea / len(x), float(pair.pvalue)),
    ]


def _mallows(order: tuple) -> float:
    ref = ["Ames", "Baker", "Cruz", "Dunn", "Ellis"]
    ranks = [ref.index(c) for c in order]
    inversions = sum(ranks[i] > ranks[j] for i in range(5) for j in range(i + 1, 5))
    q = math.exp(-0.8)
    return q**inversions / math.prod((1 - q**j) / (1 - q) for j in range(1, 6))


def _election(x: list[Any]) -> list[FitCheck]:
    arr = np.asarray(x, dtype=float)
    ok = bool(np.allclose(arr.sum(axis=1), 100.0, atol=1e-6))
    checks = [FitCheck("rows sum to 100", 0.0 if ok else math.inf, 1.0 if ok else 0.0)]
    for i, a in enumerate([160.0, 140.0, 100.0]):
        checks.append(ks_check(f"share {i} ~ beta", arr[:, i] / 100.0, stats.beta(a, 400.0 - a)))
    return checks


def _city_cdf(x: np.ndarray) -> np.ndarray:
    xm, alpha, cap = 1e5, 1.05, 4e7
    x = np.clip(x, xm, cap)
    return (1 - (xm / x) ** alpha) / (1 - (xm / cap) ** alpha)


MODELS: dict[str, Callable[[Scenario, list[Any]], list[FitCheck]]] = {
    "narr-football-score": lambda sc, x: [
        chi_square_check("home ~ Poisson(1.55)", np.array([s[0] for s in x]), stats.poisson(1.55)),
        chi_square_check("away ~ Poisson(1.15)", np.array([s[1] for s in x]), stats.poisson(1.15)),
        chi_square_check("total ~ Poisson(2.7), i.e. independent", np.array([sum(s) for s in x]), stats.poisson(2.7)),
    ],
    "narr-football-result": lambda sc, x: _labels_fit(
        sc, x, {"home-win": stats.skellam.sf(0, 2.1, 0.8), "draw": stats.skellam.pmf(0, 2.1, 0.8), "away-win": stats.skellam.cdf(-1, 2.1, 0.8)}
    ),
    "narr-basketball-points": lambda sc, x: [
        chi_square_check("rounded normal", np.array(x), _discrete(range(40, 185), np.diff(stats.norm.cdf(np.arange(39.5, 185.5), 112, 12))))
    ],
    "narr-tennis-five-sets": _tennis,
    "narr-penalty-shootout": _shootout,
    "narr-cricket-test-innings": lambda sc, x: [
        chi_square_check("zero-inflated geometric", np.array(x), _discrete(range(0, 3001), np.r_[0.09, 0.91 * stats.geom(0.91 / 40).pmf(np.arange(1, 3001))]))
    ],
    "narr-cricket-t20-over": lambda sc, x: [chi_square_check("convolution of balls and wides", np.array(x), _t20_over())],
    "narr-swim-final-order": lambda sc, x: _swim(x),
    "narr-horse-race-order": lambda sc, x: _perms_fit(sc, x, _plackett_luce({"Blaze": 1 / 3, "Comet": 1 / 4, "Dancer": 1 / 5, "Echo": 1 / 7, "Flint": 1 / 10})),
    "narr-lunch-ranking": lambda sc, x: _perms_fit(sc, x, _plackett_luce({"pizza": 4, "sushi": 3, "salad": 2, "soup": 1})),
    "narr-ballot-ranking": lambda sc, x: _perms_fit(sc, x, _mallows),
    "narr-poker-hand-category": _poker,
    "narr-blackjack-dealer-final": lambda sc, x: _labels_fit(sc, x, _dealer_from(0, False)),
    "narr-blackjack-two-cards": lambda sc, x: [chi_square_check("enumerated pairs", np.array(x), _two_cards())],
    "narr-monopoly-turn": lambda sc, x: [chi_square_check("enumerated turns", np.array(x), _monopoly())],
    "narr-yahtzee-largest-group": lambda sc, x: [chi_square_check("enumerated rolls", np.array(x), _largest_group())],
    "narr-roulette-red-session": lambda sc, x: [
        chi_square_check("wins ~ Binomial(5, 18/37)", (np.array(x) + 50) // 20, stats.binom(5, 18 / 37))
    ],
    "narr-weather-three-days": lambda sc, x: _labels_fit(
        sc, x, dict(zip(["sunny", "cloudy", "rainy"], np.linalg.matrix_power(np.array([[0.6, 0.3, 0.1], [0.3, 0.4, 0.3], [0.2, 0.4, 0.4]]), 3)[0]))
    ),
    "narr-coffee-queue-wait": lambda sc, x: _atom_at_zero(x, 0.2, stats.expon(scale=12)),
    "narr-daily-rainfall": lambda sc, x: _atom_at_zero(x, 0.55, stats.gamma(0.75, scale=8)),
    "narr-commute-incidents": lambda sc, x: [
        ks_check("normal + 15% exponential delay", np.array(x), _cdf(lambda t: 0.85 * stats.norm.cdf(t, 28, 3) + 0.15 * stats.exponnorm.cdf(t, 5, 28, 3)))
    ],
    "narr-adult-height": lambda sc, x: [
        ks_check("50/50 normal mixture", np.array(x), _cdf(lambda t: 0.5 * stats.norm.cdf(t, 163, 7) + 0.5 * stats.norm.cdf(t, 177, 7.5)))
    ],
    "narr-redundant-pumps": lambda sc, x: [ks_check("max of two exponentials", np.array(x), _cdf(lambda t: (1 - np.exp(-np.maximum(t, 0) / 5)) ** 2))],
    "narr-city-population": lambda sc, x: [ks_check("truncated Pareto", np.array(x, dtype=float), _cdf(_city_cdf))],
    "narr-election-shares": lambda sc, x: _election(x),
    "narr-warbler-point-count": lambda sc, x: [
        chi_square_check("zero-inflated Poisson", np.array(x), _discrete(range(40), 0.6 * stats.poisson(3.5).pmf(np.arange(40)) + 0.4 * (np.arange(40) == 0)))
    ],
}


# ---------------------------------------------------------------- draws, once per session


@pytest.fixture(scope="module")
def draws(request: pytest.FixtureRequest) -> Any:
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    sandbox = UnsafeSubprocessSandbox(python=python)
    pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="narr-check")
    futures: dict[str, Future[list[Any]]] = {}

    def submit(sc: Scenario) -> Future[list[Any]]:
        if sc.id not in futures:
            seed = derive_seed("narratives-model-check", sc.id)
            futures[sc.id] = pool.submit(generate_samples, sc, N_DRAWS, seed, sandbox)
        return futures[sc.id]

    for item in request.session.items:  # start everything this session will check, two at a time
        sc = getattr(getattr(item, "callspec", None), "params", {}).get("scenario")
        if isinstance(sc, Scenario) and sc.id in BY_ID and "draws" in getattr(item, "fixturenames", ()):
            submit(sc)
    yield lambda sc: submit(sc).result()
    pool.shutdown(wait=True, cancel_futures=True)
    sandbox.close()


# ---------------------------------------------------------------- the pack as a whole


def test_pack_has_at_least_fifty_narratives_with_prefixed_ids() -> None:
    assert len(PACK.scenarios) >= 50
    assert all(sc.id.startswith("narr-") and sc.kind.value == "narrative" for sc in PACK.scenarios)


def test_pack_mixes_every_support() -> None:
    by_support = {s: sum(sc.support is s for sc in PACK.scenarios) for s in Support}
    assert all(n >= 3 for n in by_support.values()), by_support


def test_every_narrative_has_a_model_check() -> None:
    unchecked = [sc.id for sc in PACK.scenarios if sc.reference is None and sc.id not in MODELS]
    assert not unchecked, f"give these a reference or an exact model in MODELS: {unchecked}"
    assert not set(MODELS) - set(BY_ID), "MODELS names scenarios that do not exist"
    assert not [i for i in MODELS if BY_ID[i].reference is not None], "one check per scenario: reference or MODELS"


# ---------------------------------------------------------------- each narrative


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_narrative_states_its_assumptions(scenario: Scenario) -> None:
    assert scenario.notes and len(scenario.notes) >= 80, "notes must state the modelling assumptions"
    tags = set(scenario.tags)
    assert "kind:narrative" in tags and any(t.startswith("topic:") for t in tags)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_prompt_says_what_an_answer_looks_like(scenario: Scenario) -> None:
    prompt, fmt = " ".join(scenario.prompt.split()), scenario.answer_format  # line breaks are not content
    assert "Answer with" in prompt
    for word in fmt.labels or []:
        assert word in prompt, f"label {word!r} is not named in the prompt"
    for item in fmt.items or []:
        assert str(item) in prompt, f"item {item!r} is not named in the prompt"
    if scenario.support is Support.multivariate or scenario.support is Support.permutation:
        assert "JSON list" in prompt


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_ground_truth_fits_the_stated_model(scenario: Scenario, draws) -> None:
    samples = draws(scenario)
    checks = reference_fit(scenario, samples) if scenario.reference else MODELS[scenario.id](scenario, samples)
    failed = [f"{c.what}: statistic {c.statistic:.4g}, p = {c.pvalue:.3g}" for c in checks if not c.pvalue >= ALPHA]
    assert not failed, f"{scenario.id}: draws do not fit the stated model -- " + "; ".join(failed)
