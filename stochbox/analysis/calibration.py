"""Calibration: does an oracle that samples from the ground truth pass at rate 1 - alpha?

Contract of :func:`calibrate`:

* For each scenario, the reference comes from the truth cache (same seed rule
  as runs: ``derive_seed(seed, "reference", id)``), and the oracle's samples
  for *all* trials come from one sandbox execution of the ground truth
  (``generate_samples(scenario, trials * n, derive_seed(seed, "calibrate",
  id), sandbox)``), split into ``trials`` consecutive blocks of ``n``; each
  block is evaluated exactly as a model's answers would be.
* A calibrated test passes a trial with probability >= 1 - alpha (exactly
  1 - alpha for a continuous statistic). A scenario is *flagged* when the
  exact two-sided binomial test of its pass count against 1 - alpha gives
  p < ``flag_level`` (default 0.001, so ~0.1% of calibrated scenarios are
  flagged by chance); ``direction`` says ``anti-conservative`` (fails the
  oracle too often) or ``conservative``. Per support type the pooled pass
  rate is reported with a 95% Clopper-Pearson interval and ``within_target``
  (|rate - (1 - alpha)| <= ``tolerance``, default 0.03).
* Deterministic given (scenarios, trials, n, alpha, seed, reference_n).
  A scenario whose ground truth fails is reported with ``error`` and skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence

from pydantic import BaseModel
from scipy import stats

from stochbox.errors import StochboxError
from stochbox.evaluators.dispatch import evaluate_scenario
from stochbox.evaluators.intervals import clopper_pearson_interval
from stochbox.evaluators.presets import get_preset
from stochbox.reference.cache import ReferenceCache
from stochbox.sandbox.base import Sandbox
from stochbox.scenarios.models import Scenario
from stochbox.seeding import derive_seed
from stochbox.reference.truth import generate_samples

DEFAULT_TRIALS = 200
DEFAULT_FLAG_LEVEL = 1e-3
DEFAULT_TOLERANCE = 0.03


class ScenarioCalibration(BaseModel):
    scenario: str
    pack: str | None
    support: str
    test: str | None = None
    trials: int
    passes: int
    pass_rate: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    binom_pvalue: float | None = None
    flagged: bool = False
    direction: str | None = None  # "anti-conservative" | "conservative" when flagged
    error: str | None = None


class SupportCalibration(BaseModel):
    support: str
    scenarios: int
    trials: int
    passes: int
    pass_rate: float
    ci_low: float
    ci_high: float
    within_target: bool


class CalibrationReport(BaseModel):
    preset: str
    alpha: float
    n: int
    trials: int
    reference_n: int
    seed: int
    target: float
    tolerance: float
    flag_level: float
    scenarios: list[ScenarioCalibration]
    supports: list[SupportCalibration]

    @property
    def ok(self) -> bool:
        return all(s.within_target for s in self.supports)


def calibrate_scenario(
    scenario: Scenario,
    reference: list,
    oracle_samples: list,
    *,
    trials: int,
    n: int,
    alpha: float,
    flag_level: float = DEFAULT_FLAG_LEVEL,
) -> ScenarioCalibration:
    """Evaluate ``trials`` consecutive blocks of ``n`` oracle samples against ``reference``."""
    preset = get_preset("stochbox", alpha)
    passes, tests = 0, set()
    for t in range(trials):
        res = evaluate_scenario(
            scenario, oracle_samples[t * n : (t + 1) * n], reference, model="baseline:oracle", mode="native", preset=preset
        )
        passes += res.passed
        tests.add(res.test)
    low, high = clopper_pearson_interval(passes, trials)
    p = float(stats.binomtest(passes, trials, 1 - alpha).pvalue)
    flagged = p < flag_level
    return ScenarioCalibration(
        scenario=scenario.id,
        pack=scenario.pack,
        support=scenario.support.value,
        test="+".join(sorted(tests)),
        trials=trials,
        passes=passes,
        pass_rate=passes / trials,
        ci_low=low,
        ci_high=high,
        binom_pvalue=p,
        flagged=flagged,
        direction=("anti-conservative" if passes / trials < 1 - alpha else "conservative") if flagged else None,
    )


def summarize_supports(
    rows: Sequence[ScenarioCalibration], *, alpha: float, tolerance: float = DEFAULT_TOLERANCE
) -> list[SupportCalibration]:
    pooled: dict[str, list[ScenarioCalibration]] = defaultdict(list)
    for row in rows:
        if row.error is None:
            pooled[row.support].append(row)
    out = []
    for support in sorted(pooled):
        group = pooled[support]
        trials, passes = sum(r.trials for r in group), sum(r.passes for r in group)
        low, high = clopper_pearson_interval(passes, trials)
        rate = passes / trials
        out.append(
            SupportCalibration(
                support=support,
                scenarios=len(group),
                trials=trials,
                passes=passes,
                pass_rate=rate,
                ci_low=low,
                ci_high=high,
                within_target=abs(rate - (1 - alpha)) <= tolerance,
            )
        )
    return out


def calibrate(
    scenarios: Sequence[Scenario],
    sandbox: Sandbox,
    *,
    trials: int = DEFAULT_TRIALS,
    n: int = 100,
    alpha: float = 0.05,
    seed: int = 0,
    reference_n: int = 10_000,
    cache: ReferenceCache | None = None,
    flag_level: float = DEFAULT_FLAG_LEVEL,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: Callable[[ScenarioCalibration], None] | None = None,
) -> CalibrationReport:
    if trials < 1 or n < 1:
        raise ValueError("trials and n must be >= 1")
    cache = cache or ReferenceCache()
    rows = []
    for sc in scenarios:
        try:
            reference, _ = cache.get(sc, reference_n, seed, sandbox)
            oracle = generate_samples(sc, trials * n, derive_seed(seed, "calibrate", sc.id), sandbox)
        except StochboxError as exc:
            row = ScenarioCalibration(scenario=sc.id, pack=sc.pack, support=sc.support.value, trials=0, passes=0, error=str(exc))
        else:
            row = calibrate_scenario(sc, reference, oracle, trials=trials, n=n, alpha=alpha, flag_level=flag_level)
        rows.append(row)
        if progress is not None:
            progress(row)
    return CalibrationReport(
        preset="stochbox",
        alpha=alpha,
        n=n,
        trials=trials,
        reference_n=reference_n,
        seed=seed,
        target=1 - alpha,
        tolerance=tolerance,
        flag_level=flag_level,
        scenarios=rows,
        supports=summarize_supports(rows, alpha=alpha, tolerance=tolerance),
    )
