"""The goodness-of-fit helper accepts draws from the reference and rejects draws from a wrong law.

Samples are drawn in-process with numpy under fixed seeds; both directions
are checked, so the library's reference test could fail if a ground truth
drifted from its stated distribution.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scenario_fit import chi_square_check, reference_fit
from scipy import stats

from stochbox.scenarios import Scenario

ALPHA = 1e-3
N = 5000


def _scenario(support: str, fmt: dict, dist: str, args=(), kwds=None, dimension=None) -> Scenario:
    return Scenario.model_validate(
        {
            "id": "fit-probe",
            "title": "fit probe",
            "prompt": "x",
            "kind": "canonical",
            "support": support,
            "dimension": dimension,
            "answer_format": fmt,
            "ground_truth": {"code": "print(0)"},
            "reference": {"dist": dist, "args": list(args), "kwds": kwds or {}},
        }
    )


def _min_p(sc: Scenario, samples) -> float:
    return min(c.pvalue for c in reference_fit(sc, samples))


def test_continuous_ks_accepts_the_law_and_rejects_a_shift() -> None:
    sc = _scenario("continuous", {"type": "number"}, "norm", kwds={"loc": 10, "scale": 2})
    rng = np.random.default_rng(1)
    assert _min_p(sc, rng.normal(10, 2, N).tolist()) > ALPHA
    assert _min_p(sc, rng.normal(10.2, 2, N).tolist()) < ALPHA


@pytest.mark.parametrize(
    ("dist", "args", "good", "bad"),
    [
        ("poisson", [4], lambda r: r.poisson(4, N), lambda r: r.poisson(4.3, N)),
        ("binom", [20, 0.3], lambda r: r.binomial(20, 0.3, N), lambda r: r.binomial(20, 0.33, N)),
        ("zipf", [2.5], lambda r: r.zipf(2.5, N), lambda r: r.zipf(2.3, N)),
        ("geom", [0.2], lambda r: r.geometric(0.2, N), lambda r: r.geometric(0.2, N) - 1 + (r.random(N) < 0.5)),
    ],
)
def test_discrete_chi_square_accepts_the_law_and_rejects_a_nearby_one(dist, args, good, bad) -> None:
    sc = _scenario("discrete", {"type": "integer"}, dist, args)
    assert _min_p(sc, good(np.random.default_rng(2)).tolist()) > ALPHA
    assert _min_p(sc, bad(np.random.default_rng(3)).tolist()) < ALPHA


def test_values_outside_the_support_fail_outright() -> None:
    check = chi_square_check("x", np.array([0, 1, 2, 7]), stats.randint(0, 4))
    assert check.pvalue == 0.0


def test_categorical_codes_labels_by_their_index() -> None:
    sc = _scenario(
        "categorical", {"type": "label", "labels": ["sun", "cloud", "rain"]}, "rv_discrete",
        kwds={"values": [[0, 1, 2], [0.5, 0.3, 0.2]]},
    )
    rng = np.random.default_rng(4)
    assert _min_p(sc, rng.choice(["sun", "cloud", "rain"], N, p=[0.5, 0.3, 0.2]).tolist()) > ALPHA
    assert _min_p(sc, rng.choice(["sun", "cloud", "rain"], N, p=[0.3, 0.5, 0.2]).tolist()) < ALPHA


def test_permutations_are_coded_by_their_itertools_index() -> None:
    items = ["A", "B", "C", "D"]
    sc = _scenario("permutation", {"type": "list", "items": items}, "randint", [0, 24])
    rng = np.random.default_rng(5)
    uniform = [list(rng.permutation(items)) for _ in range(N)]
    assert _min_p(sc, uniform) > ALPHA
    # A biased shuffle (each element swapped with any position, the classic bug) is not uniform.
    biased = []
    for _ in range(N):
        xs = list(items)
        for i in range(4):
            j = rng.integers(0, 4)
            xs[i], xs[j] = xs[j], xs[i]
        biased.append(xs)
    assert _min_p(sc, biased) < ALPHA
    assert list(itertools.permutations(items))[0] == ("A", "B", "C", "D")


def test_multivariate_normal_projection_catches_a_wrong_covariance() -> None:
    cov = [[1, 0.8], [0.8, 1]]
    sc = _scenario(
        "multivariate", {"type": "vector", "dim": 2}, "multivariate_normal", kwds={"mean": [0, 0], "cov": cov},
        dimension=2,
    )
    rng = np.random.default_rng(6)
    assert _min_p(sc, rng.multivariate_normal([0, 0], cov, N).tolist()) > ALPHA
    # Right marginals, no correlation: only the projection can tell.
    wrong = rng.multivariate_normal([0, 0], [[1, 0], [0, 1]], N).tolist()
    checks = reference_fit(sc, wrong)
    assert all(c.pvalue > ALPHA for c in checks if c.what.startswith("component"))
    assert min(c.pvalue for c in checks) < ALPHA


def test_dirichlet_and_multinomial_check_components_and_row_sums() -> None:
    dsc = _scenario("multivariate", {"type": "vector", "dim": 3}, "dirichlet", [[2, 3, 5]], dimension=3)
    rng = np.random.default_rng(7)
    assert _min_p(dsc, rng.dirichlet([2, 3, 5], N).tolist()) > ALPHA
    assert _min_p(dsc, rng.dirichlet([3, 3, 4], N).tolist()) < ALPHA
    msc = _scenario(
        "multivariate", {"type": "vector", "dim": 3, "element": "integer"}, "multinomial",
        kwds={"n": 20, "p": [0.2, 0.3, 0.5]}, dimension=3,
    )
    good = rng.multinomial(20, [0.2, 0.3, 0.5], N)
    assert _min_p(msc, good.tolist()) > ALPHA
    assert _min_p(msc, (good + np.array([0, 0, 1])).tolist()) < ALPHA  # rows sum to 21
