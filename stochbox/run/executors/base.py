"""Executors: where a run's episodes execute (``--executor local|ray``).

Contract: an :class:`Executor` turns one :class:`~stochbox.run.plan.EpisodeSpec`
into one :class:`~stochbox.results.EpisodeRecord`, emitting the episode's
trace events into the run's trace. The runner owns everything else -- which
episodes are left, how many are in flight (``--concurrency``), storing each
record as it arrives, ``episode_end``, progress -- so every executor gets
crash-safe resume for free, and an episode's record depends only on its spec
(seeds come from the run seed), never on where it ran: ``local`` and ``ray``
store the same samples and statuses for the same seed.

* ``local`` (default): asyncio tasks in this process, sharing the run's
  sandbox pool and agents.
* ``processes``: :mod:`stochbox.run.executors.processes`, worker processes on this
  machine (``--workers``, default one per CPU), for runs whose client CPU
  (HTTP, LangChain, LangGraph) would hold one process back.
* ``ray``: :mod:`stochbox.run.executors.ray` (needs the ``ray`` extra).

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

from stochbox.errors import ConfigError

if TYPE_CHECKING:
    from stochbox.run.plan import EpisodeSpec
    from stochbox.results import EpisodeRecord

EXECUTORS = ("local", "processes", "ray")

#: Options that only one executor takes: run-config field -> (command-line option, that executor).
EXECUTOR_OPTIONS = {"ray_address": ("--ray-address", "ray"), "workers": ("--workers", "processes")}


def executor_needed(field: str, value: object, executor: str) -> str | None:
    """The executor ``field`` set to ``value`` needs, when it is not ``executor`` (None when they go together)."""
    owner = EXECUTOR_OPTIONS[field][1]
    return owner if value is not None and executor != owner else None


class Executor(ABC):
    name: str

    @asynccontextmanager
    async def session(self, run: Any) -> AsyncIterator[None]:
        """Set up for ``run`` (a :class:`stochbox.run.runner` run) and tear down afterwards."""
        yield

    @abstractmethod
    async def run_episode(self, run: Any, spec: EpisodeSpec, trace: Any) -> EpisodeRecord:
        """Run one episode; its events go to ``trace.emit(event, episode_id=..., **fields)``."""

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name}


class LocalExecutor(Executor):
    """Episodes as asyncio tasks in this process."""

    name = "local"

    async def run_episode(self, run: Any, spec: EpisodeSpec, trace: Any) -> EpisodeRecord:
        return await run._run_episode(spec, trace)


def make_executor(name: str = "local", *, ray_address: str | None = None, workers: int | None = None) -> Executor:
    """The executor for ``--executor NAME``; ConfigError for an unknown name or a misplaced option,
    MissingExtraError without ray."""
    for field, value in (("ray_address", ray_address), ("workers", workers)):
        if owner := executor_needed(field, value, name):
            raise ConfigError(f"{EXECUTOR_OPTIONS[field][0]} needs --executor {owner}")
    if name == "local":
        return LocalExecutor()
    if name == "processes":
        from stochbox.run.executors.processes import ProcessExecutor

        return ProcessExecutor(workers)
    if name == "ray":
        from stochbox.run.executors.ray import RayExecutor

        return RayExecutor(address=ray_address)
    raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS)}, not '{name}'")
