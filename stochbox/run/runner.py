"""Run orchestration: a config in, a run folder out.

Contract:

* :func:`start_run` checks everything a user can get wrong (out folder,
  packs, scenarios, model strings, modes, sandbox, ground truth) *before* it
  creates the run folder, so a mistake leaves nothing behind. An existing
  non-empty ``out_dir`` is refused (:class:`ConfigError`); nothing is ever
  overwritten. A scenario whose ground truth fails is left out and recorded
  in ``run.json`` (:mod:`stochbox.reference.exclusions`); ``strict`` stops instead.
* :func:`resume_run` rebuilds the run from ``run.json`` (config and frozen
  scenarios), skips every episode already in the store and runs the rest;
  only runtime fields (:data:`~stochbox.run.config.RUNTIME_FIELDS`) may be
  overridden. Because seeds depend only on (run seed, scenario, index),
  a resumed run stores exactly what an uninterrupted one would.
* Episodes run through the run's executor (:mod:`stochbox.run.executors`),
  each one by :class:`~stochbox.run.episode.EpisodeRunner`, at most
  ``concurrency`` at a time. Each
  finished episode is committed to ``run.sqlite`` before its ``episode_end``
  trace event, so the store is the truth after a crash. An agent bug or an
  episode overrunning its time limit becomes a ``failed``/``limit`` record,
  never a crashed run; so does any other exception while an episode is
  computed or stored (:mod:`stochbox.run.internal_failure`, counted in
  ``RunOutcome.internal_errors``); a :class:`StochboxError` (a configuration
  mistake, a full disk) stops the run.
* On cancellation (Ctrl-C) every finished episode is already stored; the
  trace gets ``run_end`` with status ``interrupted`` and the
  ``KeyboardInterrupt``/``CancelledError`` propagates to the caller. Any
  other error ends the trace with ``failed`` and propagates.
* Agents that define ``prepare_run(plan: RunPlan)`` get the whole plan
  before the first episode (the oracle baseline draws per scenario with it).
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from stochbox.agents.base import Agent
from stochbox.run.config import OPTION_NAMES, RUNTIME_FIELDS, RunConfig
from stochbox.errors import ConfigError, RunStoreError, StochboxError
from stochbox.run.episode import EpisodeRunner, open_run_sandbox, resolve_agents, utcnow
from stochbox.run.executors.base import Executor
from stochbox.run.executors.registry import make_executor
from stochbox.reference.cache import ReferenceCache, load_references
from stochbox.reference.exclusions import working_references
from stochbox.run.internal_failure import internal_failure_record
from stochbox.results import EpisodeRecord
from stochbox.conditions.templates import default_templates
from stochbox.run.runinfo import RunInfo, new_run_id, package_versions, read_run_info, write_run_info
from stochbox.sandbox import Sandbox
from stochbox.scenarios import resolve_packs, select_scenarios
from stochbox.scenarios.models import Scenario
from stochbox.run.store import RunStore
from stochbox.run.trace import TraceWriter, read_trace

ProgressHook = Callable[[EpisodeRecord, int, int], None]  # (record, done, total)
StartHook = Callable[[RunInfo], None]  # called once the run folder is ready, before any episode


@dataclass
class RunOutcome:
    run_dir: Path
    run_id: str
    status: str  # "complete" (interrupted and failed runs raise instead)
    total: int  # episodes in the plan
    done: int  # episodes stored (including earlier attempts)
    ran: int  # episodes run by this call
    statuses: dict[str, int] = field(default_factory=dict)
    internal_errors: int = 0  # episodes stored as failed because stochbox raised (stochbox.run.internal_failure)


@contextmanager
def frozen_heap() -> Iterator[None]:
    """Exempt every object that exists now (imported libraries, scenarios, references, agents) from
    garbage-collection scans until the block ends.

    Full collections otherwise rescan that heap again and again while episodes allocate: 8% of a
    native episode against an instant model (benchmarks/harness_overhead.py). Objects made inside
    the block are collected as usual; at the end everything is unfrozen, so a process that runs
    several runs (tests, notebooks) collects their leftovers normally. Does nothing when someone
    else has frozen objects already (their freeze is theirs to undo).
    """
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _check_out_dir(out_dir: Path) -> None:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ConfigError(
            f"--out {out_dir} already exists and is not empty; nothing was overwritten",
            hint=f"continue it with: stochbox run --resume {out_dir}; or choose another --out",
        )


def _unique(scenarios: list[Scenario]) -> list[Scenario]:
    """Episode ids and references are keyed by scenario id, so a run cannot hold one id twice."""
    seen: dict[str, Scenario] = {}
    for sc in scenarios:
        if sc.id in seen:
            raise ConfigError(
                f"scenario id '{sc.id}' is in both {seen[sc.id].source or seen[sc.id].pack} and {sc.source or sc.pack}",
                hint="ids must be unique within a run; rename one or pick packs with --pack",
            )
        seen[sc.id] = sc
    return scenarios


class _Run:
    """One execution of a run's remaining episodes (new or resumed)."""

    def __init__(
        self,
        run_dir: Path,
        info: RunInfo,
        agents: list[Agent],
        sandbox: Sandbox,
        references: dict[str, list[Any]],
        progress: ProgressHook | None,
        *,
        executor: Executor | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.info = info
        self.config = info.config
        self.episodes = EpisodeRunner(run_dir, info, agents, sandbox, references)  # what the executor runs
        self.sandbox = sandbox
        self.progress = progress
        self.plan = self.episodes.plan
        self.executor = executor or make_executor(self.config.executor, ray_address=self.config.ray_address, workers=self.config.workers)

    async def execute(self, *, resumed: bool) -> RunOutcome:
        store = RunStore(self.run_dir, create=True)  # also on resume: a crash may precede the first episode
        try:
            trace = _GuardedTrace(TraceWriter(self.run_dir, self.info.run_id))
        except OSError as exc:
            store.close()
            raise _trace_error(self.run_dir, exc) from None
        statuses: dict[str, int] = {}
        ran = internal_errors = 0
        status = "failed"
        try:
            done_ids = store.done_ids()
            todo = [e for e in self.plan.episodes if e.episode_id not in done_ids]
            if resumed:
                _continue_steps(trace, self.run_dir, {e.episode_id for e in todo})
            self.episodes.prepare_agents()
            unconfined = not self.sandbox.isolating
            trace.emit(
                "run_start",
                config=self.config.model_dump(mode="json"),
                versions=self.info.versions,
                sandbox=self.sandbox.describe(),
                unconfined=unconfined,
                resumed=resumed,
                episodes_total=len(self.plan.episodes),
                episodes_todo=len(todo),
                excluded=[e.scenario for e in self.info.excluded],
            )
            done = len(done_ids)
            pending = iter(todo)

            async def worker() -> None:
                nonlocal done, ran, internal_errors
                for spec in pending:  # a shared iterator: each episode is taken once
                    if stopping:
                        return
                    await asyncio.sleep(0)  # yield even when agents never do, so stops and peers get a turn
                    try:
                        record = await self.executor.run_episode(self.episodes, spec, trace)
                        store.put(record)
                    except StochboxError:
                        raise
                    except Exception as exc:  # stochbox's own bug: this episode is failed, the run goes on
                        record = internal_failure_record(self.info.run_id, spec, exc, partial(trace.emit, episode_id=spec.episode_id))
                        store.put(record)
                        internal_errors += 1
                    trace.emit(
                        "episode_end",
                        episode_id=spec.episode_id,
                        status=record.status.value,
                        n_samples=len(record.samples),
                        reason=record.reason,
                    )
                    done += 1
                    ran += 1
                    statuses[record.status.value] = statuses.get(record.status.value, 0) + 1
                    if self.progress is not None:
                        self.progress(record, done, len(self.plan.episodes))

            stopping = False
            with frozen_heap():
                async with self.executor.session(self.episodes):  # where episodes run: stochbox.run.executors
                    workers = [asyncio.create_task(worker()) for _ in range(min(self.config.concurrency, max(1, len(todo))))]
                    try:
                        await asyncio.gather(*workers)
                    except BaseException:
                        stopping = True
                        for w in workers:
                            w.cancel()
                        await asyncio.gather(*workers, return_exceptions=True)
                        raise
            status = "complete"
        except (KeyboardInterrupt, asyncio.CancelledError):
            status = "interrupted"
            raise
        finally:
            try:
                trace.emit("run_end", status=status, episodes=store.count(), ran=ran, internal_errors=internal_errors)
            except StochboxError:  # a full disk must not mask the error that stopped the run
                pass
            trace.close()
            store.close()
            await self.episodes.aclose()
        return RunOutcome(
            run_dir=self.run_dir,
            run_id=self.info.run_id,
            status=status,
            total=len(self.plan.episodes),
            done=done,
            ran=ran,
            statuses=statuses,
            internal_errors=internal_errors,
        )

def _trace_error(run_dir: Path, exc: OSError) -> RunStoreError:
    return RunStoreError(
        f"cannot write the trace in {run_dir}: {exc.strerror or exc}",
        hint="free disk space or fix permissions, then: stochbox run --resume " + str(run_dir),
    )


class _GuardedTrace:
    """A TraceWriter whose OS errors (disk full, permissions) become RunStoreError.

    Agents call ``emit`` too; a RunStoreError is a StochboxError, which agents
    let through, so a run whose trace cannot be written stops cleanly instead
    of recording episodes whose events were lost.
    """

    def __init__(self, writer: TraceWriter) -> None:
        self.writer = writer

    def emit(self, event: str, **fields: Any) -> int | None:
        try:
            return self.writer.emit(event, **fields)
        except OSError as exc:
            raise _trace_error(self.writer.path.parent, exc) from None

    def seed_steps(self, episode_id: str, next_step: int) -> None:
        self.writer.seed_steps(episode_id, next_step)

    def close(self) -> None:
        try:
            self.writer.close()
        except OSError:
            pass


def _continue_steps(trace: "_GuardedTrace", run_dir: Path, episode_ids: set[str]) -> None:
    """Unfinished episodes that left events keep numbering their steps from where they stopped."""
    last: dict[str, int] = {}
    for event in read_trace(run_dir):
        if event.episode_id in episode_ids and event.step is not None:
            last[event.episode_id] = max(last.get(event.episode_id, -1), event.step)
    for episode_id, step in last.items():
        trace.seed_steps(episode_id, step + 1)


def _pool_size(config: RunConfig) -> int:
    return min(max(config.concurrency, config.jobs), os.cpu_count() or 1)


def start_run(
    config: RunConfig,
    out_dir: Path | str,
    *,
    progress: ProgressHook | None = None,
    on_start: StartHook | None = None,
    sandbox: Sandbox | None = None,
    strict: bool = False,
) -> RunOutcome:
    """Create ``out_dir`` and run every episode of ``config``. See the module contract.

    ``sandbox``: an open sandbox to use instead of opening ``config.sandbox``
    (the caller keeps ownership and closes it). A scenario whose ground truth
    fails is left out and recorded in ``run.json`` (:mod:`stochbox.reference.exclusions`);
    ``strict=True`` stops with its TruthError instead, before any folder exists.
    """
    out_dir = Path(out_dir).expanduser()
    _check_out_dir(out_dir)
    scenarios = _unique(select_scenarios(resolve_packs(config.packs), config.scenarios))
    agents = resolve_agents(config)
    cache = ReferenceCache(config.cache_dir)
    owned = sandbox is None
    if sandbox is None:
        sandbox = open_run_sandbox(config.sandbox, _pool_size(config))

    async def main() -> RunOutcome:
        refs = [cache.ref(s, config.reference_n, config.seed) for s in scenarios]
        # Ground truth first: a broken program is reported (or, strict, stops the run) before any folder exists.
        if strict:
            references, excluded = await load_references(refs, scenarios, cache, sandbox, config.jobs), []
        else:
            references, excluded = await working_references(refs, scenarios, cache, sandbox, config.jobs)
        _create_dir(out_dir)
        info = RunInfo(
            run_id=new_run_id(),
            created_at=utcnow(),
            config=config,
            seed=config.seed,
            models=[a.describe() for a in agents],
            sandbox=sandbox.describe(),
            versions=package_versions(),
            scenarios=[s for s in scenarios if s.id in references],
            references=[r for r in refs if r.scenario in references],
            excluded=excluded,
            default_prompts=default_templates(),
        )
        write_run_info(out_dir, info)
        if on_start is not None:
            on_start(info)
        return await _Run(out_dir, info, agents, sandbox, references, progress).execute(resumed=False)

    try:
        return asyncio.run(main())
    finally:
        if owned:
            sandbox.close()


def resume_run(
    run_dir: Path | str,
    *,
    overrides: Mapping[str, Any] | None = None,
    progress: ProgressHook | None = None,
    on_start: StartHook | None = None,
    sandbox: Sandbox | None = None,
) -> RunOutcome:
    """Finish the run in ``run_dir``.

    ``overrides`` may change only runtime fields (:data:`RUNTIME_FIELDS`:
    sandbox backend, concurrency, ...; ``None`` values are ignored);
    ``sandbox`` as in :func:`start_run`.
    """
    run_dir = Path(run_dir).expanduser()
    info = read_run_info(run_dir)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    bad = sorted(OPTION_NAMES.get(k, k) for k in given if k not in RUNTIME_FIELDS)
    if bad:
        raise ConfigError(
            f"--resume takes the run's settings from {run_dir}/run.json; cannot change {', '.join(bad)}",
            hint="start a new run with --out to use other settings",
        )
    if given:
        stored = info.config.model_dump()
        if given.get("executor", stored["executor"]) != stored["executor"]:
            stored.update(workers=None, ray_address=None)  # the old executor's options do not carry over to another
        info.config = RunConfig.model_validate({**stored, **given})
    agents = resolve_agents(info.config)
    cache = ReferenceCache(info.config.cache_dir)
    owned = sandbox is None
    if sandbox is None:
        sandbox = open_run_sandbox(info.config.sandbox, _pool_size(info.config))
    try:
        info.resumed_at.append(utcnow())
        info.sandbox = sandbox.describe()
        write_run_info(run_dir, info)
        if on_start is not None:
            on_start(info)
        return asyncio.run(_aresume(run_dir, info, agents, sandbox, cache, progress))
    finally:
        if owned:
            sandbox.close()


async def _aresume(
    run_dir: Path, info: RunInfo, agents: list[Agent], sandbox: Sandbox, cache: ReferenceCache, progress: ProgressHook | None
) -> RunOutcome:
    references = await load_references(info.references, info.scenarios, cache, sandbox, info.config.jobs)
    return await _Run(run_dir, info, agents, sandbox, references, progress).execute(resumed=True)


def _create_dir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunStoreError(f"cannot create run folder {path}: {exc.strerror or exc}", hint="check the parent folder is writable") from None
