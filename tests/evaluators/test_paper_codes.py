"""The paper's v1 numeric code of an ordering is its index among itertools.permutations(items) (a Lehmer rank)."""

from __future__ import annotations

import itertools

import numpy as np

from stochbox.evaluators.unpredictabench import codes
from stochbox.scenarios.models import AnswerFormat


def unpredictabench_codes(values, fmt):
    return codes(values, fmt, version="v1")


def test_orderings_are_coded_by_their_index_among_all_permutations():
    for items in (["Ana", "Ben", "Cleo", "Dev", "Eli"], [3, 1, 2, 0]):
        fmt = AnswerFormat(type="list", items=items)
        perms = [list(p) for p in itertools.permutations(items)]
        assert unpredictabench_codes(perms, fmt).tolist() == list(range(len(perms)))
        # repeated orders in any order keep their codes (each distinct order is ranked once)
        rng = np.random.default_rng(3)
        picks = rng.integers(0, len(perms), 500)
        assert unpredictabench_codes([perms[i] for i in picks], fmt).tolist() == picks.tolist()
    assert unpredictabench_codes([], AnswerFormat(type="list", items=["a", "b"])).tolist() == []
