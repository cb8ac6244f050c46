"""Result objects of evaluators (scipy.stats style: ``statistic`` and ``pvalue``).

Contract: :class:`ScenarioTestResult` is one scenario's verdict for one
(model, mode, N); :class:`KSAtNSummary` aggregates them. Field names below are
stable: ``report --json`` exposes them.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Preset(BaseModel):
    """A pass rule. ``stochbox`` (default): p >= alpha with support-aware tests.
    ``unpredictabench``: their rule (KS p > 1e-4 on the first N values)."""

    model_config = ConfigDict(frozen=True)

    name: str = "stochbox"
    alpha: float = Field(default=0.05, gt=0, lt=1)


class Regularity(BaseModel):
    """The too-regular diagnostic of one scenario's samples (see :mod:`.regularity`).

    ``checks`` maps each sub-check to its p-value (None where it does not
    apply); ``pvalue`` is the Bonferroni-adjusted smallest one, and
    ``too_regular`` is ``pvalue < level``. It never changes ``passed``.
    """

    too_regular: bool
    pvalue: float
    level: float
    checks: dict[str, float | None]
    detail: str | None = None  # which check fired, in words


class ScenarioTestResult(BaseModel):
    scenario: str
    model: str
    mode: str
    n: int  # N asked for
    n_valid: int  # valid samples among the first N
    test: str  # e.g. "ks_2samp", "ks_discrete_mc", "chi2_gof", "energy_perm"
    statistic: float | None = None
    pvalue: float | None = None
    passed: bool
    alpha: float
    preset: str = "stochbox"
    effect: dict[str, float] = Field(default_factory=dict)  # ks_distance, w1_scaled, tv_distance
    reason: str | None = None  # e.g. "fewer than N valid samples"
    extra: dict[str, Any] = Field(default_factory=dict)
    regularity: Regularity | None = None  # set by reports at the run's N; None where not computed


class KSAtNSummary(BaseModel):
    model: str
    mode: str
    n: int
    alpha: float
    preset: str = "stochbox"
    ks_at_n: float
    ci_low: float
    ci_high: float
    scenarios: int
    passed: int
    parse_rate: float
    mean_statistic: float | None = None
    # family-clustered bootstrap interval (scenarios of one family: tag resampled together)
    clusters: int | None = None
    cluster_ci_low: float | None = None
    cluster_ci_high: float | None = None
    too_regular: int | None = None  # scenarios whose samples the too-regular diagnostic flagged
