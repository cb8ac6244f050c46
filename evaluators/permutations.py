"""Tests for samples that are orderings (permutations) of k items.

* ``k! <= MAX_WHOLE_CELLS`` (k <= 6): a chi-square homogeneity test on the
  frequencies of *whole* permutations (each ordering is one category), with
  the Monte-Carlo exact conditional p-value of :mod:`.categorical`. It is valid
  at any N, even with more cells than samples; it catches a wrong joint law
  that has right marginals.
* larger k: the documented reduction -- one chi-square MC test per position
  (which item lands there, k cells each), combined with Holm's correction;
  the reported p-value is the smallest Holm-adjusted one (the family is
  rejected iff it is < alpha). Only position marginals are tested then.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from stochbox.evaluators.categorical import chi2_mc
from stochbox.evaluators.intervals import holm_adjust
from stochbox.evaluators.outcome import TestOutcome

MAX_WHOLE_CELLS = 720


def permutation_key(sample: Sequence) -> str:
    """A hashable, order-preserving label for one ordering."""
    return "\x1f".join(map(str, sample))


def permutation_test(
    agent: Sequence[Sequence], reference: Sequence[Sequence], *, k: int, draws: int, rng: np.random.Generator
) -> TestOutcome:
    if math.factorial(k) <= MAX_WHOLE_CELLS:
        out = chi2_mc([permutation_key(s) for s in agent], [permutation_key(s) for s in reference], draws=draws, rng=rng)
        return TestOutcome("perm_whole_chi2_mc", out.statistic, out.pvalue, {**out.extra, "cells_possible": math.factorial(k)})
    per_position = [
        chi2_mc([str(s[j]) for s in agent], [str(s[j]) for s in reference], draws=draws, rng=rng) for j in range(k)
    ]
    adjusted = holm_adjust([o.pvalue for o in per_position])
    worst = int(np.argmin(adjusted))
    return TestOutcome(
        "perm_position_chi2_mc_holm",
        per_position[worst].statistic,
        adjusted[worst],
        {
            "draws": draws,
            "reduction": f"k!={math.factorial(k)} > {MAX_WHOLE_CELLS}: position marginals with Holm",
            "position_pvalues": [o.pvalue for o in per_position],
            "worst_position": worst,
        },
    )
