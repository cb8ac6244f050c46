"""The raw result of one statistical test, before a pass rule is applied."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TestOutcome:
    """scipy.stats style: ``statistic`` and ``pvalue``, plus the test's name and details.

    ``test`` is a stable identifier (``ks_2samp``, ``ks_discrete_mc``,
    ``chi2_mc``, ``energy_perm``, ...) that reports print and group by.
    """

    __test__ = False  # not a pytest test class

    test: str
    statistic: float
    pvalue: float
    extra: dict[str, Any] = field(default_factory=dict)
