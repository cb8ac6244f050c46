"""``--executor processes [--workers K]``: a run's episodes spread over K worker processes on this machine.

One Python process runs its event loop on one core. A run against a fast
provider is bound by the client's CPU (HTTP, JSON, LangChain and LangGraph
per call), not by the provider, so a single process leaves the other cores
idle; this executor uses them. It is the Ray executor's layout on one
machine, without Ray: each worker is a spawned process holding an
:class:`~stochbox.run.executors.host.EpisodeHost` (its own agents, and its own
sandbox pool when the plan needs one).

Contract:

* The runner's process keeps the run folder and stores each record as it
  arrives, exactly as with the local executor, so ``kill -9`` and
  ``--resume`` behave the same (a killed runner takes its workers with it:
  they exit when their pipe closes).
* Results equal the local executor's for the same seed: an episode depends
  only on its spec, and workers look specs up by episode id in the same
  plan. An episode's trace events are written by the runner when it returns,
  in order, with the ``ts`` of when they happened in the worker.
* ``--concurrency`` bounds the episodes in flight over all workers (the
  runner's bound); each episode goes to the least busy worker. A provider
  connection cap (``--max-connections``) is split evenly between workers,
  and adaptive rate limiting (:mod:`stochbox.agents.limiter`) is per worker.
* Workers are fresh interpreters (``python -c``, not ``fork``: no inherited
  event loop, threads or sandbox servers; and not ``multiprocessing``'s
  spawn, which re-runs the caller's ``__main__``, so scripts and notebooks
  need no ``if __name__ == "__main__"`` guard), which costs a second or two
  per run. They talk to the runner over one socket pair each.
  A worker that fails to start (bad model spec, no sandbox backend) raises
  its StochboxError in the runner; a worker that dies mid-run stops the run
  with a StochboxError; finished episodes are stored and
  ``stochbox run --resume`` continues.
"""

from __future__ import annotations

import asyncio
import gc
import math
import os
import signal
import subprocess
import sys
import threading
import traceback
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from multiprocessing.connection import Connection, Pipe
from typing import TYPE_CHECKING, Any

from stochbox.errors import ConfigError, StochboxError
from stochbox.run.executors.base import Executor

if TYPE_CHECKING:
    from stochbox.results import EpisodeRecord
    from stochbox.run.episode import EpisodeRunner, TraceSink
    from stochbox.run.plan import EpisodeSpec

#: Seconds a worker gets to close its agents and sandbox before it is killed.
CLOSE_TIMEOUT_S = 30.0


# --- the worker process ------------------------------------------------------------------


def worker_main(fd: int) -> None:
    """A worker process's entry point: serve the runner on the connection ``fd`` until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the runner's to handle; it stops us through the pipe
    conn = Connection(fd)
    try:
        run_dir, info, references, pool_size = conn.recv()
        asyncio.run(_serve(conn, run_dir, info, references, pool_size))
    except (BrokenPipeError, EOFError, ConnectionResetError):
        pass  # the runner is gone


async def _serve(conn: Connection, run_dir: str, info: Any, references: dict[str, list[Any]], pool_size: int) -> None:
    """Messages in: an episode id, or None to stop. Out: ("ready", sandbox) once, then per episode
    ("done", id, record, events) | ("config_error", id, message, hint) | ("crash", id, text)."""
    from stochbox.run.executors.host import EpisodeHost

    try:
        host = EpisodeHost(run_dir, info, references, pool_size)
    except StochboxError as exc:
        conn.send(("config_error", None, str(exc), getattr(exc, "hint", None)))
        return
    except Exception:
        conn.send(("crash", None, traceback.format_exc()))
        return
    gc.freeze()  # this process only serves episodes: its set-up is never garbage (see stochbox.run.runner.frozen_heap)
    loop = asyncio.get_running_loop()
    inbox: asyncio.Queue[str | None] = asyncio.Queue()

    def readable() -> None:
        try:
            inbox.put_nowait(conn.recv())
        except (EOFError, OSError):
            inbox.put_nowait(None)

    async def one(episode_id: str) -> None:
        try:
            record, events = await host.run_episode(host.specs[episode_id])
            reply: tuple[Any, ...] = ("done", episode_id, record, events)
        except StochboxError as exc:
            reply = ("config_error", episode_id, str(exc), getattr(exc, "hint", None))
        except Exception:
            reply = ("crash", episode_id, traceback.format_exc())
        try:
            conn.send(reply)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the runner is gone; the loop ends on EOF
        except Exception:  # a result that cannot be pickled: the runner must still hear about this episode
            conn.send(("crash", episode_id, traceback.format_exc()))

    tasks: set[asyncio.Task[None]] = set()
    loop.add_reader(conn.fileno(), readable)
    try:
        conn.send(("ready", None, host.describe_sandbox()))
        while (episode_id := await inbox.get()) is not None:
            task = asyncio.create_task(one(episode_id))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
    finally:
        loop.remove_reader(conn.fileno())
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await host.close()


# --- the runner's side ------------------------------------------------------------------------


class _Worker:
    """The runner's handle on one worker process: a pipe, a reader thread, the episodes in flight."""

    def __init__(self, index: int, process: Any, conn: Connection) -> None:
        self.index, self.process, self.conn = index, process, conn
        self.pending: dict[str | None, asyncio.Future[Any]] = {}
        self.busy = 0
        self.dead: str | None = None
        self.send_lock = threading.Lock()
        self.ready: asyncio.Future[Any] | None = None  # the worker's first message

    def read_forever(self, loop: asyncio.AbstractEventLoop, setup: tuple[Any, ...]) -> None:
        """Runs in a thread: send the worker its ``setup`` (it reads it once started, which takes a while:
        not on the event loop), then hand every message to the loop; EOF means the worker died or stopped."""
        try:
            self.send(setup)
        except StochboxError:
            loop.call_soon_threadsafe(self._died)
            return
        while True:
            try:
                msg = self.conn.recv()
            except (EOFError, OSError):
                loop.call_soon_threadsafe(self._died)
                return
            loop.call_soon_threadsafe(self._deliver, msg)

    def _deliver(self, msg: tuple[Any, ...]) -> None:
        future = self.pending.pop(msg[1], None)
        if future is not None and not future.done():
            future.set_result(msg)

    def _died(self) -> None:
        code = self.process.poll()
        self.dead = f"worker process {self.index} (pid {self.process.pid}) exited" + (f" with code {code}" if code is not None else "")
        for future in self.pending.values():
            if not future.done():
                future.set_exception(_worker_died(self.dead))
        self.pending.clear()

    def expect(self, key: str | None) -> asyncio.Future[Any]:
        if self.dead is not None:
            raise _worker_died(self.dead)
        future = asyncio.get_running_loop().create_future()
        self.pending[key] = future
        return future

    def send(self, message: str | None) -> None:
        try:
            with self.send_lock:
                self.conn.send(message)
        except OSError:  # a broken pipe: the worker is gone
            raise _worker_died(self.dead or f"worker process {self.index} (pid {self.process.pid}) exited") from None


def _worker_died(what: str) -> StochboxError:
    return StochboxError(f"{what} in the middle of the run", hint="finished episodes are stored; continue with: stochbox run --resume DIR")


def _result(msg: tuple[Any, ...]) -> tuple[EpisodeRecord, list[Any]]:
    kind = msg[0]
    if kind == "done":
        return msg[2], msg[3]
    if kind == "config_error":
        raise StochboxError(msg[2], hint=msg[3])
    raise WorkerEpisodeError(msg[2])


class WorkerEpisodeError(RuntimeError):
    """An episode raised in a worker process; ``exception_type`` and ``str()`` are the worker's exception,
    ``traceback`` its full text (see :mod:`stochbox.run.internal_failure`)."""

    def __init__(self, text: str) -> None:
        last = (text.strip().splitlines() or ["Exception"])[-1]
        name, _, message = last.partition(": ")
        super().__init__(message or last)
        self.exception_type = name.rsplit(".", 1)[-1] or "Exception"
        self.traceback = text


class ProcessExecutor(Executor):
    """Episodes in ``workers`` spawned processes on this machine; see the module contract."""

    name = "processes"

    def __init__(self, workers: int | None = None) -> None:
        if workers is not None and workers < 1:
            raise ConfigError(f"--workers must be at least 1, not {workers}")
        self.workers = workers or os.cpu_count() or 1
        self._pool: list[_Worker] = []
        self._threads: list[threading.Thread] = []
        self.sandboxes: list[Any] = []

    @asynccontextmanager
    async def session(self, run: EpisodeRunner) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        config = run.config
        cap = None if config.max_connections is None else max(1, math.ceil(config.max_connections / self.workers))
        info = run.info.model_copy(update={"config": config.model_copy(update={"max_connections": cap})})
        pool_size = max(1, math.ceil(min(max(config.concurrency, config.jobs), os.cpu_count() or 1) / self.workers))
        try:
            for i in range(self.workers):
                ours, theirs = Pipe()
                process = subprocess.Popen(
                    [sys.executable, "-c", f"from stochbox.run.executors.processes import worker_main; worker_main({theirs.fileno()})"],
                    pass_fds=[theirs.fileno()],
                    stdin=subprocess.DEVNULL,
                )
                theirs.close()  # so that the worker's death reads as EOF here
                worker = _Worker(i, process, ours)
                worker.ready = worker.expect(None)
                self._pool.append(worker)
                setup = (str(run.run_dir), info, run.references, pool_size)
                thread = threading.Thread(target=worker.read_forever, args=(loop, setup), name=f"stochbox-worker-{i}-reader", daemon=True)
                thread.start()
                self._threads.append(thread)
            for worker in self._pool:
                assert worker.ready is not None
                msg = await worker.ready
                if msg[0] != "ready":
                    _result(msg)
                self.sandboxes.append(msg[2])
            yield
        finally:
            await asyncio.to_thread(self._stop)

    def _stop(self) -> None:
        for worker in self._pool:
            try:
                worker.send(None)
            except StochboxError:
                pass
        for worker in self._pool:
            try:
                worker.process.wait(CLOSE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
            worker.conn.close()
        for thread in self._threads:
            thread.join(5.0)
        self._pool, self._threads = [], []

    async def run_episode(self, run: EpisodeRunner, spec: EpisodeSpec, trace: TraceSink) -> EpisodeRecord:
        worker = min(self._pool, key=lambda w: w.busy)
        worker.busy += 1
        try:
            future = worker.expect(spec.episode_id)
            worker.send(spec.episode_id)
            record, events = _result(await future)
        finally:
            worker.busy -= 1
        for event, episode_id, fields in events:
            trace.emit(event, episode_id=episode_id, **fields)
        return record

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name, "workers": self.workers, "sandboxes": self.sandboxes}
