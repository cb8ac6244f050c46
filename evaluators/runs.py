"""Read a finished (or partial) run folder into what evaluators need.

Contract: :func:`load_run` reads ``run.json`` and ``run.sqlite`` through the
core's run store (:mod:`stochbox.runinfo`, :mod:`stochbox.store`) and the
reference samples through its truth cache, regenerating a missing reference
in a sandbox of the run's backend (byte-identical by construction). It never
modifies the run folder. Samples are laid out exactly as ``stochbox report``
does (:func:`stochbox.report.layout_samples`): N slots in episode order,
``None`` where missing.

:meth:`RunData.parse_rate` counts a sample as parsed only when it is valid
for the scenario's answer format (``coerce_sample``): a stored sample that
fails validation is as unusable as a missing one.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stochbox.config import RunConfig
from stochbox.evaluators.dispatch import evaluate_scenario
from stochbox.evaluators.intervals import family_of
from stochbox.evaluators.models import Preset, Regularity, ScenarioTestResult
from stochbox.evaluators.regularity import check_regularity
from stochbox.reference import ReferenceCache
from stochbox.report import layout_samples
from stochbox.results import EpisodeRecord
from stochbox.runinfo import RunInfo, read_run_info
from stochbox.scenarios.models import Scenario
from stochbox.scenarios.samples import coerce_sample
from stochbox.store import RunStore

ArmKey = tuple[str, str]  # (model, mode)


@dataclass
class RunData:
    """One run folder, loaded. ``samples[(model, mode)][scenario]`` holds N slots."""

    run_dir: Path
    info: RunInfo
    records: dict[ArmKey, dict[str, list[EpisodeRecord]]]
    samples: dict[ArmKey, dict[str, list[Any]]]
    references: dict[str, list[Any]]
    _cache: dict[tuple, Any] = field(default_factory=dict, repr=False)

    @property
    def config(self) -> RunConfig:
        return self.info.config

    @property
    def scenarios(self) -> list[Scenario]:
        return list(self.info.scenarios)

    @property
    def arms(self) -> list[ArmKey]:
        """(model, mode) pairs in config order."""
        return [(m, mode.value) for m in self.config.models for mode in self.config.modes]

    def parse_rate(self, arm: ArmKey) -> float:
        """Valid samples / samples requested over the arm's stored episodes."""
        formats = {s.id: s.answer_format for s in self.scenarios}
        requested = valid = 0
        for scenario, group in self.records.get(arm, {}).items():
            fmt = formats.get(scenario)
            for r in group:
                requested += r.n_requested
                valid += sum(_is_valid(x, fmt) for x in r.samples[: r.n_requested])
        return valid / requested if requested else 0.0

    def families(self) -> dict[str, str]:
        """Scenario id -> its cluster for family-clustered intervals (first ``family:`` tag, else itself)."""
        return {s.id: family_of(s.id, s.tags) for s in self.scenarios}

    def evaluate_checked(self, arm: ArmKey, preset: Preset) -> list[ScenarioTestResult]:
        """:meth:`evaluate` at the run's N with the too-regular diagnostic (:mod:`.regularity`) attached."""
        key = (arm, preset.name, preset.alpha, "regularity")
        if key not in self._cache:
            checks = self.regularity(arm)
            self._cache[key] = [
                r.model_copy(update={"regularity": checks[r.scenario]}) for r in self.evaluate(arm, preset)
            ]
        return self._cache[key]

    def regularity(self, arm: ArmKey) -> dict[str, Regularity]:
        """The too-regular diagnostic of each scenario's N episode-ordered samples (independent of the preset)."""
        key = (arm, "regularity")
        if key not in self._cache:
            self._cache[key] = {
                sc.id: check_regularity(sc, self.samples[arm][sc.id], self.references[sc.id]) for sc in self.scenarios
            }
        return self._cache[key]

    def evaluate(self, arm: ArmKey, preset: Preset, n: int | None = None) -> list[ScenarioTestResult]:
        """Per-scenario results of one arm at N = ``n`` (a prefix; default the run's N), run order."""
        n = self.config.n if n is None else n
        key = (arm, preset.name, preset.alpha, n)
        if key not in self._cache:
            model, mode = arm
            self._cache[key] = [
                evaluate_scenario(
                    sc, self.samples[arm][sc.id][:n], self.references[sc.id], model=model, mode=mode, preset=preset
                )
                for sc in self.scenarios
            ]
        return self._cache[key]


def _is_valid(value: Any, fmt: Any) -> bool:
    if value is None or fmt is None:
        return value is not None
    try:
        coerce_sample(value, fmt)
    except ValueError:
        return False
    return True


def _references(info: RunInfo, sandbox_backend: str | None) -> dict[str, list[Any]]:
    from stochbox.runner import load_references, open_run_sandbox

    cache = ReferenceCache(info.config.cache_dir)
    if all(cache.load(r.key) is not None for r in info.references):
        return asyncio.run(load_references(info.references, info.scenarios, cache, None, 1))
    with open_run_sandbox(sandbox_backend or info.config.sandbox, info.config.jobs) as sb:
        return asyncio.run(load_references(info.references, info.scenarios, cache, sb, info.config.jobs))


def load_run(run_dir: Path | str, *, sandbox: str | None = None) -> RunData:
    run_dir = Path(run_dir).expanduser()
    info = read_run_info(run_dir)
    config = info.config
    records: dict[ArmKey, dict[str, list[EpisodeRecord]]] = defaultdict(lambda: defaultdict(list))
    with RunStore(run_dir) as store:
        for rec in store.records():
            records[(rec.model, rec.mode.value)][rec.scenario].append(rec)
    arms = [(m, mode.value) for m in config.models for mode in config.modes]
    samples = {
        arm: {
            sc.id: layout_samples(records.get(arm, {}).get(sc.id, []), config.n, config.samples_per_episode)
            for sc in info.scenarios
        }
        for arm in arms
    }
    return RunData(
        run_dir=run_dir,
        info=info,
        records={k: dict(v) for k, v in records.items()},
        samples=samples,
        references=_references(info, sandbox),
    )
