"""An episode host: the agents and sandbox pool of one worker, running episodes of a run it did not start.

Used by the executors whose episodes run outside the runner's process
(``--executor processes``: :mod:`stochbox.run.executors.processes`; ``--executor
ray``: :mod:`stochbox.run.executors.ray`). The runner's process keeps the run
folder; a host only computes.

Contract:

* A host is built from the run's :class:`~stochbox.run.runinfo.RunInfo` and its
  reference samples; it resolves its own agents from ``info.config`` and
  opens its own sandbox pool (only when some episode of the plan can use
  one: tool mode, or an agent that needs a sandbox).
* :meth:`EpisodeHost.run_episode` returns the same
  :class:`~stochbox.results.EpisodeRecord` the runner would compute in its
  own process for that spec (an episode depends only on its spec), plus the
  episode's trace events in order, each with the time it happened (``ts``),
  for the runner to write.
* :meth:`EpisodeHost.close` closes the agents, then the sandbox.
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stochbox.results import Mode
from stochbox.run.episode import EpisodeRunner, open_run_sandbox, resolve_agents

if TYPE_CHECKING:
    from stochbox.run.plan import EpisodeSpec
    from stochbox.results import EpisodeRecord
    from stochbox.run.runinfo import RunInfo

#: One trace event as buffered by a host: (event, episode_id, fields including ``ts``).
BufferedEvent = tuple[str, "str | None", dict[str, Any]]


class BufferedTrace:
    """A :class:`~stochbox.run.episode.TraceSink` collecting one episode's events for the runner's process."""

    def __init__(self) -> None:
        self.events: list[BufferedEvent] = []

    def emit(self, event: str, *, episode_id: str | None = None, **fields: Any) -> None:
        # the time it happened, not the time the runner writes it (the trace writer keeps a given ts)
        fields.setdefault("ts", datetime.now(timezone.utc).isoformat(timespec="microseconds"))
        self.events.append((event, episode_id, fields))


class EpisodeHost:
    """A worker's agents and sandbox pool; see the module contract."""

    def __init__(self, run_dir: str | Path, info: RunInfo, references: dict[str, list[Any]], pool_size: int) -> None:
        self.agents = resolve_agents(info.config)
        needs_sandbox = Mode.tool in info.config.modes or any(getattr(a, "needs_sandbox", False) for a in self.agents)
        self.sandbox = open_run_sandbox(info.config.sandbox, pool_size) if needs_sandbox else None
        self.run = EpisodeRunner(Path(run_dir), info, self.agents, self.sandbox, references)
        self.specs: dict[str, EpisodeSpec] = {s.episode_id: s for s in self.run.plan.episodes}
        self.run.prepare_agents()

    async def run_episode(self, spec: EpisodeSpec) -> tuple[EpisodeRecord, list[BufferedEvent]]:
        trace = BufferedTrace()
        record = await self.run.run_episode(spec, trace)
        return record, trace.events

    def describe_sandbox(self) -> dict[str, Any] | None:
        return self.sandbox.describe() if self.sandbox is not None else None

    async def close(self) -> None:
        try:
            for agent in self.agents:
                await agent.aclose()
        finally:
            if self.sandbox is not None:
                self.sandbox.close()
