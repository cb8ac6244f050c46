"""``--executor ray [--ray-address ADDR]``: a run's episodes spread over a Ray cluster.

Layout: one :class:`NodeWorker` actor per alive node (pinned with node
affinity), each owning that node's sandbox pool (sized to its CPUs) and its
own agents, built from the run's ``run.json`` content and reference samples.
Every episode is one Ray actor task, sent to the least busy node; at most
``--concurrency`` are in flight in the whole cluster (the runner's bound).

Contract:

* The driver keeps the run folder: results come back to it and the runner
  stores each record as it arrives, exactly as with the local executor, so
  ``kill -9`` and ``--resume`` behave the same. The run folder need not be
  shared with the nodes.
* An episode's trace events are buffered on its node and written to the
  driver's ``trace.jsonl`` when the episode returns, in order (their
  ``step``s are the same; ``ts`` is when the event happened on its node,
  so clocks of different machines may disagree by their skew).
* Results equal the local executor's for the same seed: an episode depends
  only on its spec (seeds derive from the run seed), not on its node.
* Nodes need stochbox (and the run's model extras) installed; the sandbox
  backend named by the run (``auto`` by default) must start on every node.
  Adaptive rate limiting (:mod:`stochbox.agents.limiter`) is per node.
* Without an initialised Ray, :meth:`RayExecutor.session` calls
  ``ray.init(address)`` (no address: a fresh local cluster, never one a
  ``ray start`` left on this machine) and shuts it down after;
  an already initialised Ray is used as is and left running.
* A node worker that dies (node lost, worker crash) stops the run with a
  :class:`~stochbox.errors.StochboxError`; finished episodes are stored and
  ``stochbox run --resume`` continues.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from stochbox.run.executors.host import EpisodeHost
from stochbox.errors import MissingExtraError, StochboxError
from stochbox.run.executors.base import Executor

if TYPE_CHECKING:
    from stochbox.results import EpisodeRecord
    from stochbox.run.episode import EpisodeRunner, TraceSink
    from stochbox.run.plan import EpisodeSpec


def _ray():
    try:
        import ray
    except ImportError:
        raise MissingExtraError("--executor ray", "ray") from None
    return ray


class NodeWorker(EpisodeHost):
    """One per node (a Ray actor): the node's :class:`~stochbox.run.executors.host.EpisodeHost`."""

    def describe(self) -> dict[str, Any]:
        import ray

        return {"node_id": ray.get_runtime_context().get_node_id(), "sandbox": self.describe_sandbox()}


class RayExecutor(Executor):
    name = "ray"

    def __init__(self, address: str | None = None) -> None:
        _ray()  # fail early (MissingExtraError) without the extra
        self.address = address
        self._workers: list[Any] = []
        self._busy: list[int] = []
        self.nodes: list[dict[str, Any]] = []

    @asynccontextmanager
    async def session(self, run: EpisodeRunner) -> AsyncIterator[None]:
        ray = _ray()
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        started = not ray.is_initialized()
        if started:
            try:
                # "local" starts a fresh cluster; None would join whatever `ray start` ran here last, even a dead one
                ray.init(address=self.address or "local", include_dashboard=False, log_to_driver=False)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise StochboxError(f"--ray-address {self.address}: cannot connect to the Ray cluster: {exc}") from None
        try:
            nodes = [n for n in ray.nodes() if n.get("Alive")]
            per_node = max(1, -(-run.config.concurrency // max(1, len(nodes))))
            actor = ray.remote(NodeWorker)
            info_ref, refs_ref = ray.put(run.info), ray.put(run.references)  # shipped once per node, not per episode
            self._workers = [
                actor.options(
                    num_cpus=0,  # the sandbox pool does the CPU work; the actor itself mostly awaits
                    max_concurrency=per_node,
                    scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=n["NodeID"], soft=False),
                ).remote(str(run.run_dir), info_ref, refs_ref, max(1, min(int(n.get("Resources", {}).get("CPU", 1)), per_node)))
                for n in nodes
            ]
            self._busy = [0] * len(self._workers)
            self.nodes = [await self._call(w.describe.remote()) for w in self._workers]
            yield
        finally:
            for worker in self._workers:
                try:
                    await worker.close.remote()
                except Exception:  # a dead worker has nothing left to close
                    pass
                ray.kill(worker)
            self._workers, self._busy = [], []
            if started:
                ray.shutdown()

    async def run_episode(self, run: EpisodeRunner, spec: EpisodeSpec, trace: TraceSink) -> EpisodeRecord:
        i = min(range(len(self._workers)), key=self._busy.__getitem__)
        self._busy[i] += 1
        try:
            record, events = await self._call(self._workers[i].run_episode.remote(spec))
        finally:
            self._busy[i] -= 1
        for event, episode_id, fields in events:
            trace.emit(event, episode_id=episode_id, **fields)
        return record

    async def _call(self, ref: Any) -> Any:
        ray = _ray()
        try:
            return await ref
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            if isinstance(cause, StochboxError):
                raise cause from None  # a configuration mistake, as in the local executor
            raise
        except ray.exceptions.RayActorError as exc:
            raise StochboxError(
                f"a Ray node worker died ({type(exc).__name__}: {str(exc).splitlines()[0]})",
                hint="finished episodes are stored; continue with: stochbox run --resume DIR",
            ) from None

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "address": self.address, "nodes": self.nodes}
