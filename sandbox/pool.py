"""A pool of fork-servers serving concurrent executions.

Contract: :meth:`ServerPool.execute` is thread-safe; at most ``size``
executions run at once, further callers wait for a free server. Servers
start in parallel in :meth:`start` (start-up failures raise
:class:`~stochbox.errors.SandboxUnavailableError`); after that, a server
that dies is restarted by its :class:`ManagedServer` on its next use, so
the pool never shrinks. :class:`PooledSandbox` is the :class:`Sandbox`
every fork-server backend (local jail, Docker, unsafe) builds on.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox.base import ExecResult, Sandbox
from stochbox.sandbox.transport import ManagedServer


class ServerPool:
    def __init__(self, servers: Sequence[ManagedServer]) -> None:
        if not servers:
            raise ValueError("a pool needs at least one server")
        self.servers = list(servers)
        self._idle: queue.SimpleQueue[ManagedServer] = queue.SimpleQueue()
        for server in self.servers:
            self._idle.put(server)
        self._closed = threading.Event()
        #: Wall-clock seconds :meth:`start` took (all servers, in parallel).
        self.startup_s: float | None = None

    @property
    def size(self) -> int:
        return len(self.servers)

    def start(self) -> dict[str, Any]:
        """Start every server; returns the first server's ``hello``."""
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=min(self.size, 8), thread_name_prefix="sandbox-start") as ex:
            futures = [ex.submit(s.start) for s in self.servers]
            errors = [f.exception() for f in futures]
        for err in errors:
            if err is not None:
                self.close()
                raise err
        self.startup_s = time.perf_counter() - t0
        return self.servers[0].hello

    def execute(self, code: str, **kwargs: Any) -> ExecResult:
        if self._closed.is_set():
            raise SandboxUnavailableError("the sandbox was closed")
        server = self._idle.get()
        try:
            return server.execute(code, **kwargs)
        finally:
            self._idle.put(server)

    def restarts(self) -> int:
        return sum(s.restarts for s in self.servers)

    def close(self) -> None:
        self._closed.set()
        with ThreadPoolExecutor(max_workers=min(self.size, 8)) as ex:
            list(ex.map(lambda s: s.close(), self.servers))


class PooledSandbox(Sandbox):
    """A :class:`Sandbox` backed by a :class:`ServerPool` (subclasses build the pool)."""

    pool: ServerPool

    def _execute(self, code: str, *, timeout_s: float, seed: int, output_cap: int, globals_: dict[str, Any]) -> ExecResult:
        return self.pool.execute(code, timeout_s=timeout_s, seed=seed, output_cap=output_cap, globals_=globals_)

    def server_layers(self) -> dict[str, Any]:
        """What the (first) server observed about its own confinement at start-up."""
        return self.pool.servers[0].layers

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(pool_size=self.pool.size, startup_s=self.pool.startup_s, server=self.server_layers())
        return info

    def close(self) -> None:
        self.pool.close()
