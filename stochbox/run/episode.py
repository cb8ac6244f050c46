"""One episode of a run: a spec in, a record out.

:class:`EpisodeRunner` is what every executor calls: the local executor in
the runner's process and each :class:`~stochbox.run.executors.host.EpisodeHost`
in a worker process or on a Ray node, so an episode's record depends only on
its spec, wherever it runs.

Contract of :meth:`EpisodeRunner.run_episode`:

* Emits ``episode_start`` and then whatever the agent emits into
  ``trace.emit(event, episode_id=..., **fields)`` (a :class:`TraceSink`);
  never ``episode_end`` (the runner writes that once the record is stored).
* Returns an :class:`~stochbox.results.EpisodeRecord` whose samples are
  re-checked against the scenario's answer format (the store holds only
  valid ones). An agent bug becomes a ``failed`` record; an episode
  overrunning ``episode_timeout_s`` (plus :data:`TIMEOUT_GRACE_S`) a
  ``limit`` record. Only :class:`~stochbox.errors.StochboxError` (a
  configuration mistake) and cancellation escape.
* The episode gets the run's sandbox in tool mode or when its agent says
  ``needs_sandbox``, and the scenario's reference samples when its agent
  says ``needs_reference``.
"""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from stochbox.agents.base import Agent, EpisodeContext, EpisodeOutcome
from stochbox.agents.resolve import resolve_agent
from stochbox.conditions import run_conditions
from stochbox.errors import ConfigError, StochboxError
from stochbox.results import EpisodeRecord, EpisodeStatus, Mode
from stochbox.run.plan import EpisodeSpec, RunPlan, plan_episodes
from stochbox.sandbox import Sandbox, SandboxSpec, open_sandbox
from stochbox.scenarios.samples import coerce_sample

if TYPE_CHECKING:  # types only: the executors' registry is imported by the config, and episode hosts import this module
    from stochbox.run.config import RunConfig
    from stochbox.run.runinfo import RunInfo

#: Extra seconds the runner grants past ``episode_timeout_s`` before it cancels an episode itself.
TIMEOUT_GRACE_S = 5.0


class TraceSink(Protocol):
    """Where an episode's events go: the run's trace writer, or a worker's buffer for the runner."""

    def emit(self, event: str, *, episode_id: str | None = None, **fields: Any) -> Any: ...


def utcnow() -> str:
    """The current UTC time as ISO 8601 with milliseconds (record and run.json timestamps)."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def resolve_agents(config: RunConfig) -> list[Agent]:
    """One agent per ``--model`` of ``config``, named by its spec; ConfigError for a mode it cannot do."""
    options = config.agent_options()
    agents = [resolve_agent(m, options) for m in config.models]
    for agent, spec in zip(agents, config.models):
        agent.name = spec
        missing = [m.value for m in config.modes if m not in agent.modes]
        if missing:
            raise ConfigError(f"--model {spec} does not support --mode {', '.join(missing)}")
    return agents


def open_run_sandbox(backend: str, pool_size: int) -> Sandbox:
    """The sandbox of a run: backend ``backend`` with ``pool_size`` servers (clamped to 1..256)."""
    size = max(1, min(pool_size, 256))
    return open_sandbox(SandboxSpec(backend=backend, pool_size=size))


class EpisodeRunner:
    """Runs the episodes of one run (see the module contract).

    Holds the run's folder, :class:`RunInfo`, agents (by name), sandbox and
    reference samples (by scenario id); ``plan`` is the run's
    :class:`~stochbox.run.plan.RunPlan`. Executors get it in
    ``Executor.session`` and ``Executor.run_episode``.
    """

    def __init__(
        self, run_dir: Path, info: RunInfo, agents: list[Agent], sandbox: Sandbox | None, references: dict[str, list[Any]]
    ) -> None:
        self.run_dir = run_dir
        self.info = info
        self.config = info.config
        self.agents = {a.name: a for a in agents}
        self.sandbox = sandbox
        self.references = references
        self.plan: RunPlan = plan_episodes(self.config, info.scenarios)
        self.limits = self.config.agent_options().limits  # the same for every episode of the run
        self.conditions = {c.name: c for c in run_conditions(info)}  # stochbox.conditions

    def prepare_agents(self) -> None:
        """Give agents that define ``prepare_run(plan)`` the whole plan (before the first episode)."""
        for agent in self.agents.values():
            prepare = getattr(agent, "prepare_run", None)
            if prepare is not None:
                prepare(self.plan)

    async def run_episode(self, spec: EpisodeSpec, trace: TraceSink) -> EpisodeRecord:
        agent = self.agents[spec.model]
        emit = partial(trace.emit, episode_id=spec.episode_id)
        emit("episode_start", scenario=spec.scenario.id, mode=spec.mode.value, model=spec.model, index=spec.index, seed=spec.seed,
             condition=spec.condition)
        limits = self.limits
        wants_sandbox = spec.mode is Mode.tool or getattr(agent, "needs_sandbox", False)
        ctx = EpisodeContext(
            run_id=self.info.run_id,
            episode_id=spec.episode_id,
            scenario=spec.scenario,
            mode=spec.mode,
            n_samples=spec.n_samples,
            seed=spec.seed,
            emit=emit,
            sandbox=self.sandbox if wants_sandbox else None,
            limits=limits,
            reference=self.references[spec.scenario.id] if agent.needs_reference else None,
            condition=self.conditions[spec.condition],
        )
        started_at, t0 = utcnow(), time.perf_counter()
        try:
            # asyncio.timeout, not wait_for: 3.11's wait_for can swallow a cancellation (Ctrl-C)
            async with asyncio.timeout(limits.episode_timeout_s + TIMEOUT_GRACE_S):
                outcome = await agent.arun_episode(ctx)
        except TimeoutError:
            emit("limit_hit", limit="episode_timeout_s", value=limits.episode_timeout_s)
            outcome = EpisodeOutcome(status=EpisodeStatus.limit, reason=f"episode exceeded {limits.episode_timeout_s}s")
        except StochboxError:
            raise
        except Exception as exc:  # an agent bug must not take the run down
            message = f"{type(exc).__name__}: {exc}"
            emit("error", where="agent", message=message)
            outcome = EpisodeOutcome(status=EpisodeStatus.failed, reason=f"agent raised {message}")
        samples, status, reason = valid_samples(spec, outcome)
        return EpisodeRecord(
            run_id=self.info.run_id,
            **spec.record_identity(),
            samples=samples,
            status=status,
            reason=reason,
            raw_answer=outcome.raw_answer,
            n_model_calls=outcome.n_model_calls,
            n_tool_calls=outcome.n_tool_calls,
            tokens_in=outcome.tokens_in,
            tokens_out=outcome.tokens_out,
            duration_s=round(time.perf_counter() - t0, 6),
            started_at=started_at,
            finished_at=utcnow(),
            tool_code=list(outcome.tool_code),
        )

    async def aclose(self) -> None:
        """Close the agents (not the sandbox: whoever opened it closes it)."""
        for agent in self.agents.values():
            await agent.aclose()


def valid_samples(spec: EpisodeSpec, outcome: EpisodeOutcome) -> tuple[list[Any], EpisodeStatus, str | None]:
    """Re-check the agent's samples against the answer format (the store holds only valid ones)."""
    fmt = spec.scenario.answer_format
    valid: list[Any] = []
    bad: list[str] = []
    for value in outcome.samples[: spec.n_samples]:
        try:
            valid.append(coerce_sample(value, fmt))
        except ValueError as exc:
            bad.append(str(exc))
    status, reason = outcome.status, outcome.reason
    if bad:
        reason = "; ".join(filter(None, [reason, f"{len(bad)} invalid sample(s): {bad[0]}"]))
        if status is EpisodeStatus.ok:
            status = EpisodeStatus.partial if valid else EpisodeStatus.parse_error
    elif status is EpisodeStatus.ok and len(valid) < spec.n_samples:
        status = EpisodeStatus.partial if valid else EpisodeStatus.parse_error
        reason = reason or f"{len(valid)} of {spec.n_samples} samples"
    return valid, status, reason
