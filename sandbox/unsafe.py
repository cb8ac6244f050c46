"""``unsafe-subprocess``: the fork-server as a plain host process, NO isolation.

Only for machines where no isolating backend can start and the user said so
explicitly (``--sandbox unsafe-subprocess``); runs are marked unconfined in
the trace. The code can read the user's files, use the network and signal
the user's processes. What it keeps from the real backends: the same
server, so the same seeding, fresh ``__main__`` and work dir per execution,
rlimits, output caps, timeout that kills every descendant (the server is
child subreaper), and an environment without the host's variables. Landlock
is deliberately *not* applied, so this backend stays what its name says.

The server starts lazily, on the first execution.
"""

from __future__ import annotations

import shutil
import sys
import tempfile

from stochbox.sandbox.base import IsolationLayer, SandboxSpec
from stochbox.sandbox.pool import PooledSandbox, ServerPool
from stochbox.sandbox.transport import SERVER_ENV, ManagedServer, bootstrap_argv, spawn_pipe_channel


class UnsafeSubprocessSandbox(PooledSandbox):
    name = "unsafe-subprocess"
    isolating = False

    def __init__(self, python: str | None = None, spec: SandboxSpec | None = None) -> None:
        self.python = python or sys.executable
        self.spec = spec or SandboxSpec(backend="unsafe-subprocess")
        self._root = tempfile.mkdtemp(prefix="stochbox-unsafe-")
        servers = [
            ManagedServer(
                self._launch,
                {
                    "work_root": f"{self._root}/work{slot}",  # a server empties its root after each execution
                    "landlock": False,
                    "sweep": "descendants",
                    "limits": {"memory_mb": self.spec.memory_mb, "nproc": self.spec.pids},
                },
                backend=self.name,
            )
            for slot in range(self.spec.pool_size)
        ]
        self.pool = ServerPool(servers)

    def _launch(self):
        return spawn_pipe_channel(bootstrap_argv(self.python), env=SERVER_ENV, cwd=self._root, start_new_session=True)

    def layers(self) -> list[IsolationLayer]:
        return [
            IsolationLayer(name="none", active=False, detail="unconfined host process (explicitly requested)"),
            IsolationLayer(name="rlimits", active=True, detail="cpu, address space, file size, open files (nproc only for non-root)"),
        ]

    def close(self) -> None:
        super().close()
        shutil.rmtree(self._root, ignore_errors=True)
