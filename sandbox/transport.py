"""Host side of the fork-server protocol: frames, bootstrap, restarts.

Every isolating backend runs the same server (``sandbox/server.py``) and
talks to it through this module; only *how the server process is started*
differs (bubblewrap, a container, a plain subprocess). A backend supplies a
launcher -- a callable returning a :class:`Channel` to a freshly started
server -- and :class:`ManagedServer` does the rest.

Contracts:

* :func:`bootstrap_argv` is the command that starts a server inside any
  jail or container: ``python3 -P -s -u -c BOOT``; the host then sends the
  server source as the first frame (:func:`server_source`), so no host path
  needs to be readable inside. The process environment must be exactly
  :data:`SERVER_ENV` (fixed hash seed: replays are exact).
* :meth:`ManagedServer.execute` never raises for what the code or the server
  does: a crashed, killed or hung server yields an :class:`ExecResult` with
  ``sandbox_error`` set and ``killed_reason="server_crash"``, and the next
  call starts a fresh server transparently. It raises
  :class:`~stochbox.errors.SandboxUnavailableError` only when a server cannot
  be started at all.
* A :class:`ManagedServer` serves one execution at a time (it holds a lock);
  use :class:`~stochbox.sandbox.pool.ServerPool` for concurrency.
"""

from __future__ import annotations

import collections
import itertools
import json
import os
import select
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, Protocol

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox.base import ExecResult

#: Largest frame either side accepts (two 32 MiB captures fit comfortably).
MAX_FRAME = 1 << 30

#: Reads one length-prefixed frame (the server source) from fd 0 and runs it as __main__.
#: Unbuffered reads, so nothing after the first frame is swallowed by a buffer.
BOOTSTRAP = (
    "import os\n"
    "def r(n):\n"
    " b=b''\n"
    " while len(b)<n:\n"
    "  c=os.read(0,n-len(b))\n"
    "  if not c: raise SystemExit(3)\n"
    "  b+=c\n"
    " return b\n"
    "exec(compile(r(int.from_bytes(r(4),'big')),'<stochbox-server>','exec'),{'__name__':'__main__'})\n"
)

#: The whole environment of a server process. Nothing from the host's environment.
SERVER_ENV = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "HOME": "/tmp",
    "PYTHONHASHSEED": "0",
    "OPENBLAS_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}

#: Extra time the host waits for a reply beyond the execution timeout before it
#: declares the server hung (covers fork, sweep, draining and JSON encoding).
REPLY_GRACE_S = 10.0

#: A server idle longer than this is pinged before it gets work, so one killed
#: while idle is replaced transparently; back-to-back executions skip the ping.
IDLE_PROBE_AFTER_S = 0.5
IDLE_PROBE_TIMEOUT_S = 5.0


def bootstrap_argv(python: str = "/usr/bin/python3") -> list[str]:
    """The command that starts a server; ``-P -s``: no script dir, no user site on sys.path."""
    return [python, "-P", "-s", "-u", "-c", BOOTSTRAP]


def server_source() -> bytes:
    return resources.files("stochbox.sandbox").joinpath("server.py").read_bytes()


def encode_frame(obj: Any) -> bytes:
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return len(data).to_bytes(4, "big") + data


class ServerLost(Exception):
    """The channel to a server broke, timed out or carried garbage."""


class Channel(Protocol):
    """A byte pipe to one server process and the means to end it."""

    def send(self, data: bytes) -> None: ...

    def recv_exact(self, n: int, deadline: float) -> bytes:
        """Exactly ``n`` bytes, or :class:`ServerLost` on EOF or when ``time.monotonic()`` passes ``deadline``."""
        ...

    def kill(self) -> None:
        """Make sure the server process is gone (idempotent)."""
        ...

    def diagnostics(self) -> str:
        """A short tail of what the server printed on stderr, for error messages."""
        ...


class PipeChannel:
    """A :class:`Channel` over a subprocess's stdin/stdout (bwrap, ``docker exec -i``, plain)."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        self.proc = proc
        self._wfd = proc.stdin.fileno()
        self._rfd = proc.stdout.fileno()
        self._stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self._stderr_thread = threading.Thread(target=self._drain_stderr, name=f"sandbox-stderr-{proc.pid}", daemon=True)
        self._stderr_thread.start()

    def _drain_stderr(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._stderr_tail.append(line.decode("utf-8", "replace").rstrip())

    def send(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self._wfd, view) :]
        except OSError as exc:  # EPIPE: the server is gone
            raise ServerLost(f"cannot write to server: {exc}") from None

    def recv_exact(self, n: int, deadline: float) -> bytes:
        chunks = []
        while n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerLost("server did not answer in time")
            ready, _, _ = select.select([self._rfd], [], [], remaining)
            if not ready:
                continue
            chunk = os.read(self._rfd, min(n, 1 << 20))
            if not chunk:
                raise ServerLost("server closed the channel")
            chunks.append(chunk)
            n -= len(chunk)
        return b"".join(chunks)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                stream.close()  # type: ignore[union-attr]
            except OSError:
                pass

    def diagnostics(self) -> str:
        self._stderr_thread.join(timeout=0.2)
        code = self.proc.poll()
        tail = " / ".join(list(self._stderr_tail)[-6:])
        status = "running" if code is None else f"exit status {code}"
        return f"server {status}" + (f"; stderr: {tail}" if tail else "")


# Every server is spawned from this one long-lived thread: bwrap --die-with-parent
# (PR_SET_PDEATHSIG) fires when the *thread* that forked it exits, and callers'
# threads (thread pools, asyncio.to_thread) come and go.
_SPAWNER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stochbox-sandbox-spawner")


def spawn_pipe_channel(argv: Sequence[str], **popen_kwargs: Any) -> PipeChannel:
    """Start ``argv`` (ending in :func:`bootstrap_argv`) with stdin/stdout/stderr pipes.

    The process is forked from a dedicated thread that lives as long as the
    interpreter, so parent-death signals fire only when stochbox exits.
    """
    return _SPAWNER.submit(_spawn, list(argv), popen_kwargs).result()


def _spawn(argv: list[str], popen_kwargs: dict[str, Any]) -> PipeChannel:
    try:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            bufsize=0,
            close_fds=True,
            **popen_kwargs,
        )
    except OSError as exc:
        raise SandboxUnavailableError(f"cannot start sandbox server {argv[0]!r}: {exc}") from exc
    return PipeChannel(proc)


def request(channel: Channel, obj: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """Send one frame and read one reply frame within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    channel.send(encode_frame(obj))
    size = int.from_bytes(channel.recv_exact(4, deadline), "big")
    if size > MAX_FRAME:
        raise ServerLost(f"reply frame of {size} bytes exceeds the limit")
    try:
        reply = json.loads(channel.recv_exact(size, deadline).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ServerLost(f"malformed reply from server: {exc}") from None
    if not isinstance(reply, dict):
        raise ServerLost("malformed reply from server: not an object")
    return reply


Launcher = Callable[[], Channel]


class ManagedServer:
    """One fork-server, (re)started on demand through ``launcher``.

    ``config`` is the ``configure`` frame's payload (``work_root``, ``landlock``,
    ``sweep``, ``limits``, ...). ``hello`` holds the server's own report of the
    layers confining it, refreshed at every (re)start.
    """

    def __init__(
        self,
        launcher: Launcher,
        config: dict[str, Any],
        *,
        backend: str,
        start_timeout_s: float = 60.0,
    ) -> None:
        self.launcher = launcher
        self.config = config
        self.backend = backend
        self.start_timeout_s = start_timeout_s
        self.hello: dict[str, Any] = {}
        self.restarts = 0
        self._channel: Channel | None = None
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._closed = False
        self._last_used = 0.0

    # -- life cycle
    def start(self) -> dict[str, Any]:
        """Start the server if it is not running; returns the ``hello`` reply."""
        with self._lock:
            self._ensure_started()
            return self.hello

    def _ensure_started(self) -> Channel:
        if self._closed:
            raise SandboxUnavailableError("sandbox is closed")
        if self._channel is not None:
            if time.monotonic() - self._last_used <= IDLE_PROBE_AFTER_S:
                return self._channel
            # Idle for a while: the server may have been killed meanwhile. A ping
            # now turns that into a transparent restart instead of a failed execution.
            try:
                if request(self._channel, {"op": "ping"}, IDLE_PROBE_TIMEOUT_S).get("op") == "pong":
                    self._last_used = time.monotonic()
                    return self._channel
            except ServerLost:
                pass
            self._discard()
        channel = self.launcher()
        try:
            source = server_source()
            channel.send(len(source).to_bytes(4, "big") + source)
            hello = request(channel, {"op": "configure", **self.config}, self.start_timeout_s)
        except ServerLost as exc:
            detail = channel.diagnostics()
            channel.kill()
            raise SandboxUnavailableError(f"{self.backend} sandbox server did not start: {exc}; {detail}") from None
        if hello.get("op") != "hello":
            channel.kill()
            raise SandboxUnavailableError(f"{self.backend} sandbox server failed to configure: {hello.get('error', hello)}")
        self.hello = hello
        self._channel = channel
        self._last_used = time.monotonic()
        return channel

    def _discard(self) -> str:
        channel, self._channel = self._channel, None
        if channel is None:
            return ""
        detail = channel.diagnostics()
        channel.kill()
        self.restarts += 1
        return detail

    def close(self) -> None:
        with self._lock:
            self._closed = True
            channel, self._channel = self._channel, None
            if channel is None:
                return
            try:
                request(channel, {"op": "shutdown"}, 2.0)
            except ServerLost:
                pass
            channel.kill()

    @property
    def layers(self) -> dict[str, Any]:
        return dict(self.hello.get("layers", {}))

    # -- requests
    def ping(self, timeout_s: float = 5.0) -> bool:
        with self._lock:
            try:
                return request(self._ensure_started(), {"op": "ping"}, timeout_s).get("op") == "pong"
            except ServerLost:
                self._discard()
                return False

    def execute(
        self,
        code: str,
        *,
        timeout_s: float,
        seed: int,
        output_cap: int,
        globals_: dict[str, Any],
        limits: dict[str, Any] | None = None,
    ) -> ExecResult:
        with self._lock:
            channel = self._ensure_started()
            req_id = next(self._ids)
            req = {
                "op": "exec",
                "id": req_id,
                "code": code,
                "seed": seed,
                "timeout_s": timeout_s,
                "output_cap": output_cap,
                "globals": globals_,
                "limits": limits or {},
            }
            started = time.monotonic()
            try:
                reply = request(channel, req, timeout_s + REPLY_GRACE_S)
                self._last_used = time.monotonic()
                if reply.get("op") == "retire":
                    # The server did not run this request and asks to be replaced: run it on a fresh one.
                    self._discard()
                    channel = self._ensure_started()
                    reply = request(channel, req, timeout_s + REPLY_GRACE_S)
                if reply.get("op") in ("error", "retire"):
                    raise ServerLost(f"server error: {reply.get('error')}")
                if reply.get("id") != req_id:
                    raise ServerLost(f"reply for request {reply.get('id')!r}, expected {req_id}")
            except ServerLost as exc:
                detail = self._discard()
                return ExecResult(
                    exit_code=None,
                    duration_s=time.monotonic() - started,
                    seed=seed,
                    backend=self.backend,
                    killed_reason="server_crash",
                    sandbox_error=f"sandbox server lost during execution ({exc}; {detail}); it restarts for the next one",
                )
            return ExecResult(
                stdout=reply.get("stdout", ""),
                stderr=reply.get("stderr", ""),
                exit_code=reply.get("exit_code"),
                timed_out=bool(reply.get("timed_out")),
                duration_s=float(reply.get("duration_s", 0.0)),
                truncated=bool(reply.get("truncated")),
                seed=seed,
                backend=self.backend,
                killed_reason=reply.get("killed_reason"),
                sandbox_error=reply.get("sandbox_error"),
            )
