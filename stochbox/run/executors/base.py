"""Executors: where a run's episodes execute (``--executor local|processes|ray``).

Contract: an :class:`Executor` turns one :class:`~stochbox.run.plan.EpisodeSpec`
into one :class:`~stochbox.results.EpisodeRecord` -- the record
:meth:`EpisodeRunner.run_episode <stochbox.run.episode.EpisodeRunner.run_episode>`
computes for it -- emitting the episode's trace events into the run's trace. The runner owns everything else -- which
episodes are left, how many are in flight (``--concurrency``), storing each
record as it arrives, ``episode_end``, progress -- so every executor gets
crash-safe resume for free, and an episode's record depends only on its spec
(seeds come from the run seed), never on where it ran: every executor stores
the same samples and statuses for the same seed.

* ``local`` (default): asyncio tasks in this process, sharing the run's
  sandbox pool and agents.
* ``processes``: :mod:`stochbox.run.executors.processes`, worker processes on this
  machine (``--workers``, default one per CPU), for runs whose client CPU
  (HTTP, LangChain, LangGraph) would hold one process back.
* ``ray``: :mod:`stochbox.run.executors.ray` (needs the ``ray`` extra).

Executors are registered by name in :mod:`stochbox.run.executors.registry`
(``make_executor``); third parties add one through an entry point.

Lifecycle: ``async with executor.session(run):`` around the episodes;
:meth:`Executor.run_episode` only inside it. Execution errors must become
``failed`` records (as the local path does); only StochboxError (a
configuration mistake) and cancellation may escape.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stochbox.results import EpisodeRecord
    from stochbox.run.episode import EpisodeRunner, TraceSink
    from stochbox.run.plan import EpisodeSpec


class Executor(ABC):
    name: str

    @asynccontextmanager
    async def session(self, run: EpisodeRunner) -> AsyncIterator[None]:
        """Set up for the run whose episodes ``run`` runs (its config, info, references) and tear down afterwards."""
        yield

    @abstractmethod
    async def run_episode(self, run: EpisodeRunner, spec: EpisodeSpec, trace: TraceSink) -> EpisodeRecord:
        """Run one episode as ``run.run_episode(spec, trace)`` would, wherever it runs; its events go to
        ``trace.emit(event, episode_id=..., **fields)``."""

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name}


class LocalExecutor(Executor):
    """Episodes as asyncio tasks in this process."""

    name = "local"

    async def run_episode(self, run: EpisodeRunner, spec: EpisodeSpec, trace: TraceSink) -> EpisodeRecord:
        return await run.run_episode(spec, trace)
