"""Read a finished (or partial) run folder into what evaluators need.

Contract: :func:`load_run` reads ``run.json`` and ``run.sqlite`` through the
core's run store (:mod:`stochbox.run.runinfo`, :mod:`stochbox.run.store`) and the
reference samples through its truth cache, regenerating a missing reference
in a sandbox of the run's backend (byte-identical by construction). The only
file it writes in the run folder is the verdict cache (``verdicts.sqlite``,
:mod:`.verdict_cache`; ``cache_verdicts=False`` neither reads nor writes it):
:meth:`RunData.evaluate` returns a cached verdict where every input is
unchanged and stores the ones it computes. Samples are laid out exactly as ``stochbox report``
does (:func:`layout_samples`): N slots in episode order,
``None`` where missing.

:meth:`RunData.parse_rate` counts a sample as parsed only when it is valid
for the scenario's answer format (``coerce_sample``): a stored sample that
fails validation is as unusable as a missing one.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

from stochbox.conditions import arm_mode
from stochbox.errors import RunStoreError
from stochbox.run.config import RunConfig
from stochbox.run.episode import open_run_sandbox
from stochbox.evaluators.dispatch import evaluate_scenario
from stochbox.evaluators.unpredictabench import slots_at_n
from stochbox.evaluators.intervals import family_of
from stochbox.evaluators.models import Preset, Regularity, ScenarioTestResult
from stochbox.evaluators.regularity import check_regularity
from stochbox.analysis.verdict_cache import VerdictCache, scenario_digest, verdict_key
from stochbox.reference.cache import ReferenceCache, canonical_json, load_references
from stochbox.results import EpisodeRecord
from stochbox.run.runinfo import RunInfo, read_run_info
from stochbox.scenarios.models import Scenario
from stochbox.scenarios.samples import coerce_sample
from stochbox.run.store import RunStore

ArmKey = tuple[str, str]  # (model, mode label): the mode, or MODE@CONDITION in a run with named conditions


@dataclass
class RunData:
    """One run folder, loaded. ``samples[(model, mode)][scenario]`` holds N slots."""

    run_dir: Path
    info: RunInfo
    records: dict[ArmKey, dict[str, list[EpisodeRecord]]]
    samples: dict[ArmKey, dict[str, list[Any]]]
    references: dict[str, list[Any]]
    reference_digests: dict[str, str] = field(default_factory=dict)  # sha256 of each reference's cached bytes
    verdicts: VerdictCache | None = field(default=None, repr=False)
    _cache: dict[tuple, Any] = field(default_factory=dict, repr=False)
    _scenario_digests: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def config(self) -> RunConfig:
        return self.info.config

    @property
    def scenarios(self) -> list[Scenario]:
        return list(self.info.scenarios)

    @property
    def arms(self) -> list[ArmKey]:
        """(model, mode label) pairs in config order (conditions inside models, modes innermost)."""
        return run_arms(self.config)

    @property
    def condition_names(self) -> list[str | None]:
        return [c.name for c in self.config.conditions] or [None]

    def parse_rate(self, arm: ArmKey, scenario_ids: Iterable[str] | None = None) -> float:
        """Valid samples / samples requested over the arm's stored episodes (of ``scenario_ids`` when given)."""
        formats = {s.id: s.answer_format for s in self.scenarios}
        by_scenario = self.records.get(arm, {})
        requested = valid = 0
        for sid in by_scenario if scenario_ids is None else scenario_ids:
            fmt = formats.get(sid)
            for r in by_scenario.get(sid, ()):
                requested += r.n_requested
                valid += sum(_is_valid(x, fmt) for x in r.samples[: r.n_requested])
        return valid / requested if requested else 0.0

    def families(self) -> dict[str, str]:
        """Scenario id -> its cluster for family-clustered intervals (first ``family:`` tag, else itself)."""
        return {s.id: family_of(s.id, s.tags) for s in self.scenarios}

    def evaluate_checked(self, arm: ArmKey, preset: Preset) -> list[ScenarioTestResult]:
        """:meth:`evaluate` at the run's N with the too-regular diagnostic (:mod:`.regularity`) attached;
        kept in the verdict cache like the verdicts (kind ``regularity``)."""
        key = (arm, preset.name, preset.alpha, "regularity")
        if key not in self._cache:
            model, mode = arm
            results = self.evaluate(arm, preset)
            keys: list[str | None] = []
            checked: list[ScenarioTestResult | None] = []
            for sc in self.scenarios:
                vkey = None
                if self.verdicts is not None:
                    digest = self._scenario_digests.get(sc.id) or self._scenario_digests.setdefault(sc.id, scenario_digest(sc))
                    vkey = verdict_key(
                        digest, self.samples[arm][sc.id], self.reference_digests[sc.id], model=model, mode=mode, preset=preset,
                        kind="regularity",
                    )
                keys.append(vkey)
                checked.append(self.verdicts.get(vkey) if vkey is not None else None)
            fresh = []
            with threadpool_limits(limits=1, user_api="blas"):
                for i, (sc, result) in enumerate(zip(self.scenarios, results)):
                    if checked[i] is None:
                        check = self.regularity(arm, sc)
                        checked[i] = result.model_copy(update={"regularity": check})
                        if keys[i] is not None:
                            fresh.append((keys[i], checked[i]))
            if fresh and self.verdicts is not None:
                self.verdicts.put_many(fresh)
            self._cache[key] = checked
        return self._cache[key]

    def regularity(self, arm: ArmKey, scenario: Scenario) -> Regularity:
        """The too-regular diagnostic of one scenario's N episode-ordered samples (independent of the preset)."""
        return check_regularity(scenario, self.samples[arm][scenario.id], self.references[scenario.id])

    def evaluate(self, arm: ArmKey, preset: Preset, n: int | None = None) -> list[ScenarioTestResult]:
        """Per-scenario results of one arm at N = ``n`` (a prefix; default the run's N), run order."""
        n = self.config.n if n is None else n
        key = (arm, preset.name, preset.alpha, n)
        if key not in self._cache:
            model, mode = arm
            results: list[ScenarioTestResult | None] = []
            keys: list[str | None] = []
            slots = [slots_at_n(self.samples[arm][sc.id], n, sc, preset) for sc in self.scenarios]
            for sc, samples in zip(self.scenarios, slots):
                vkey = None
                if self.verdicts is not None:
                    digest = self._scenario_digests.get(sc.id) or self._scenario_digests.setdefault(sc.id, scenario_digest(sc))
                    vkey = verdict_key(digest, samples, self.reference_digests[sc.id], model=model, mode=mode, preset=preset)
                keys.append(vkey)
                results.append(self.verdicts.get(vkey) if vkey is not None else None)
            if any(r is None for r in results):
                fresh = []
                # Every array here is small: BLAS threads only wait for cores (a 10,000-value dot product in
                # scipy's wasserstein_distance took 45 ms instead of 3 us on a busy 2-core machine).
                with threadpool_limits(limits=1, user_api="blas"):
                    for i, sc in enumerate(self.scenarios):
                        if results[i] is None:
                            results[i] = evaluate_scenario(
                                sc, slots[i], self.references[sc.id], model=model, mode=mode, preset=preset
                            )
                            if keys[i] is not None:
                                fresh.append((keys[i], results[i]))
                if fresh and self.verdicts is not None:
                    self.verdicts.put_many(fresh)
            self._cache[key] = [r for r in results if r is not None]
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


def _is_valid(value: Any, fmt: Any) -> bool:
    if value is None or fmt is None:
        return value is not None
    try:
        coerce_sample(value, fmt)
    except ValueError:
        return False
    return True


def run_arms(config: RunConfig) -> list[ArmKey]:
    conditions = [c.name for c in config.conditions] or [None]
    return [(m, arm_mode(mode.value, c)) for m in config.models for c in conditions for mode in config.modes]


def _references(info: RunInfo, sandbox_backend: str | None) -> tuple[dict[str, list[Any]], dict[str, str]]:
    """(samples, digest of the cached file's bytes) per scenario id."""
    cache = ReferenceCache(info.config.cache_dir)
    paths = {r.scenario: cache.path_for(r.key) for r in info.references}
    try:  # each file read once; a sandbox is opened only when some reference is missing or damaged
        samples = asyncio.run(load_references(info.references, info.scenarios, cache, None, 1))
    except RunStoreError:
        with open_run_sandbox(sandbox_backend or info.config.sandbox, info.config.jobs) as sb:
            samples = asyncio.run(load_references(info.references, info.scenarios, cache, sb, info.config.jobs))
    return samples, {sid: _file_digest(paths[sid], samples[sid]) for sid in samples}


def _file_digest(path: Path, samples: list[Any]) -> str:
    # The cached file is canonical JSON of the samples; hashing its bytes is ~30x cheaper than re-serialising.
    try:
        data = path.read_bytes()
    except OSError:
        data = canonical_json(samples)
    return hashlib.sha256(data).hexdigest()


def load_run(run_dir: Path | str, *, sandbox: str | None = None, cache_verdicts: bool = True) -> RunData:
    run_dir = Path(run_dir).expanduser()
    info = read_run_info(run_dir)
    config = info.config
    records: dict[ArmKey, dict[str, list[EpisodeRecord]]] = defaultdict(lambda: defaultdict(list))
    with RunStore(run_dir) as store:
        for rec in store.records():
            records[(rec.model, arm_mode(rec.mode.value, rec.condition))][rec.scenario].append(rec)
    arms = run_arms(config)
    samples = {
        arm: {
            sc.id: layout_samples(records.get(arm, {}).get(sc.id, []), config.n, config.samples_per_episode)
            for sc in info.scenarios
        }
        for arm in arms
    }
    references, digests = _references(info, sandbox)
    return RunData(
        run_dir=run_dir,
        info=info,
        records={k: dict(v) for k, v in records.items()},
        samples=samples,
        references=references,
        reference_digests=digests,
        verdicts=VerdictCache(run_dir) if cache_verdicts else None,
    )
