"""Two-sample test for categorical outcomes over labels (never integer codes).

The agent's label counts and the reference's form a 2 x K contingency table
(K = labels seen in either sample; labels seen in neither carry no
information). The statistic is Pearson's chi-square of homogeneity
(``statistic="pearson"``, equal to ``scipy.stats.chi2_contingency(...,
correction=False)``) or the G statistic (``"g"``, the log-likelihood ratio of
``scipy.stats.power_divergence``). The p-value is Monte-Carlo exact: the
conditional null given the pooled counts (multivariate hypergeometric, see
:mod:`.conditional_null`), so it is valid at small N and with sparse cells,
where the asymptotic chi-square approximation is anti-conservative.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from stochbox.evaluators.conditional_null import mc_pvalue, null_statistics
from stochbox.evaluators.outcome import TestOutcome

DEFAULT_DRAWS = 9999


def label_counts(agent: Sequence, reference: Sequence) -> tuple[list, np.ndarray, np.ndarray]:
    """Labels present in either sample (sorted by their string form) and the two count vectors."""
    labels = sorted(set(agent) | set(reference), key=str)
    index = {lab: i for i, lab in enumerate(labels)}
    a = np.bincount([index[x] for x in agent], minlength=len(labels)).astype(np.int64)
    r = np.bincount([index[x] for x in reference], minlength=len(labels)).astype(np.int64)
    return labels, a, r


def homogeneity_statistic(agent_counts: np.ndarray, ref_counts: np.ndarray, statistic: str = "pearson") -> np.ndarray:
    """Chi-square or G statistic of the 2 x K table; vectorised over leading axes of ``agent_counts``."""
    a = np.asarray(agent_counts, dtype=np.float64)
    pooled = a + np.asarray(ref_counts, dtype=np.float64)
    n = a.sum(axis=-1, keepdims=True)
    m = pooled.sum(axis=-1, keepdims=True) - n
    total = n + m
    ea, er = n * pooled / total, m * pooled / total
    r = pooled - a
    if statistic == "pearson":
        return ((a - ea) ** 2 / ea + (r - er) ** 2 / er).sum(axis=-1)
    if statistic == "g":
        with np.errstate(divide="ignore", invalid="ignore"):
            ta = np.where(a > 0, a * np.log(a / ea), 0.0)
            tr = np.where(r > 0, r * np.log(r / er), 0.0)
        return 2 * (ta + tr).sum(axis=-1)
    raise ValueError(f"statistic must be 'pearson' or 'g', not {statistic!r}")


def chi2_mc(
    agent: Sequence,
    reference: Sequence,
    *,
    statistic: str = "pearson",
    draws: int = DEFAULT_DRAWS,
    rng: np.random.Generator,
) -> TestOutcome:
    """Chi-square (or G) homogeneity test with a Monte-Carlo exact conditional p-value."""
    labels, a, r = label_counts(agent, reference)
    name = "chi2_mc" if statistic == "pearson" else "g_test_mc"
    if len(labels) < 2:  # both samples are one and the same label: nothing to reject
        return TestOutcome(name, 0.0, 1.0, {"draws": 0, "cells": len(labels)})
    observed = float(homogeneity_statistic(a, r, statistic))
    pooled = a + r
    null = null_statistics(pooled, int(a.sum()), draws, rng, lambda na: homogeneity_statistic(na, pooled - na, statistic))
    return TestOutcome(name, observed, mc_pvalue(null, observed), {"draws": draws, "cells": len(labels), "null": "permutation (counts)"})
