"""Read a finished (or partial) run folder into what evaluators need.

Contract: :func:`load_run` reads ``run.json`` and ``run.sqlite`` through the
core's run store (:mod:`stochbox.run.runinfo`, :mod:`stochbox.run.store`) and the
reference samples through its truth cache, regenerating a missing reference
in a sandbox of the run's backend (byte-identical by construction). It never
modifies the run folder. Samples are laid out exactly as ``stochbox report``
does (:func:`layout_samples`): N slots in episode order,
``None`` where missing.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stochbox.run.config import RunConfig
from stochbox.run.episode import open_run_sandbox
from stochbox.evaluators.dispatch import evaluate_scenario
from stochbox.evaluators.models import Preset, ScenarioTestResult
from stochbox.reference.cache import ReferenceCache, load_references
from stochbox.results import EpisodeRecord
from stochbox.run.runinfo import RunInfo, read_run_info
from stochbox.scenarios.models import Scenario
from stochbox.run.store import RunStore

ArmKey = tuple[str, str]  # (model, mode)


@dataclass
class RunData:
    """One run folder, loaded. ``samples[(model, mode)][scenario]`` holds N slots."""

    run_dir: Path
    info: RunInfo
    records: dict[ArmKey, dict[str, list[EpisodeRecord]]]
    samples: dict[ArmKey, dict[str, list[Any]]]
    references: dict[str, list[Any]]
    _cache: dict[tuple, list[ScenarioTestResult]] = field(default_factory=dict, repr=False)

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
        recs = [r for group in self.records.get(arm, {}).values() for r in group]
        requested = sum(r.n_requested for r in recs)
        return sum(len(r.samples) for r in recs) / requested if requested else 0.0

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


def layout_samples(records: Iterable[EpisodeRecord], n: int, samples_per_episode: int) -> list[Any]:
    """The N sample slots of one (model, mode, scenario) in episode order; ``None`` where missing."""
    slots: list[Any] = [None] * n
    for rec in records:
        start = rec.index * samples_per_episode
        for j, value in enumerate(rec.samples[:samples_per_episode]):
            if start + j < n:
                slots[start + j] = value
    return slots


def _references(info: RunInfo, sandbox_backend: str | None) -> dict[str, list[Any]]:
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
