"""``docker`` backend: a pool of hardened, long-lived containers, one fork-server each.

Each pool slot is one container started from the sandbox image (see
:mod:`stochbox.sandbox.image`) with the options of
:mod:`stochbox.sandbox.docker_options` -- no network, read-only root, a
size-capped tmpfs ``/tmp``, memory/CPU/pids limits, all capabilities
dropped, no-new-privileges, uid 65534, an init process, no host environment
and no host mounts. The host runs ``python3 -I -u -c BOOT`` in it, attaches
to its stdin/stdout, sends the fork-server source (``server.py``) as the
first frame, then speaks the frame protocol of ``docs/architecture.md``
("Sandbox wire protocol") over the attach socket, demultiplexing Docker's
8-byte stream headers itself.

Contract (beyond :class:`~stochbox.sandbox.base.Sandbox`):

* The execution timeout is enforced by the server. If the server itself
  does not answer within ``timeout_s + margin`` or its container dies, the
  container is killed and replaced and the call returns an ``ExecResult``
  with ``sandbox_error`` set; the next execution runs on a fresh container.
* Containers carry the label ``stochbox.sandbox=1`` plus the owning host,
  pid and pid start time. Opening a ``DockerSandbox`` first removes
  containers whose owner process is gone (:func:`cleanup_orphans`); stdin
  closes when the host detaches, so a crashed host's servers exit by
  themselves, and their stopped containers are removed on the next start.
* :meth:`DockerSandbox.layers` reads the confinement back from the running
  container's inspected configuration, it does not assume it.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import struct
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox.base import ExecResult, IsolationLayer, Sandbox, SandboxSpec
from stochbox.sandbox.docker_options import LABEL, hardened_options, merge_options

#: Bootstrap run as ``python3 -I -u -c BOOT``: read one frame (the server source) and exec it.
#: It reads with os.read so no byte after the source frame is buffered away from the server.
BOOT = (
    "import os\n"
    "def r(n):\n"
    " b=b''\n"
    " while len(b)<n:\n"
    "  c=os.read(0,n-len(b))\n"
    "  if not c: raise SystemExit(3)\n"
    "  b+=c\n"
    " return b\n"
    "src=r(int.from_bytes(r(4),'big')).decode()\n"
    "g={'__name__':'__main__','__file__':'<stochbox-server>'}\n"
    "exec(compile(src,'<stochbox-server>','exec'),g)\n"
)
WORK_ROOT = "/tmp/stochbox-work"
#: Memory the warm server itself needs on top of what an execution may use.
SERVER_HEADROOM_MB = 256
START_TIMEOUT_S = 60.0
_HOSTNAME = socket.gethostname()


def docker_client(timeout_s: float = 60.0):
    """A Docker SDK client for the engine of the environment (``DOCKER_HOST`` or the local socket)."""
    import docker

    try:
        return docker.from_env(timeout=timeout_s)
    except docker.errors.DockerException as err:
        raise SandboxUnavailableError(
            f"no Docker engine answers: {err}",
            hint="start dockerd (or run 'bash docker/ci-setup.sh' as root), or use --sandbox local",
        ) from None


def docker_available(timeout_s: float = 1.0) -> bool:
    """Whether a Docker engine answers a ping within ``timeout_s`` (cheap: used by ``--sandbox auto``)."""
    host = os.environ.get("DOCKER_HOST", "")
    if not host and not os.path.exists("/var/run/docker.sock"):
        return False  # the common no-engine case, without importing the SDK
    try:
        import docker

        client = docker.from_env(timeout=timeout_s)
    except Exception:
        return False
    try:
        return bool(client.ping())
    except Exception:
        return False
    finally:
        client.close()


def server_source() -> str:
    """The fork-server source sent at bootstrap."""
    return (Path(__file__).resolve().parent / "server.py").read_text()


# --------------------------------------------------------------------------- ownership labels


def _process_start_time(pid: int) -> str:
    """Start time of ``pid`` in clock ticks since boot ('' if unknown): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return ""
    return stat[stat.rfind(b")") + 2 :].split()[19].decode()


def owner_labels(run_id: str) -> dict[str, str]:
    pid = os.getpid()
    return {
        LABEL: "1",
        "stochbox.run": run_id,
        "stochbox.host": _HOSTNAME,
        "stochbox.pid": str(pid),
        "stochbox.pid_start": _process_start_time(pid),
    }


def _owner_alive(labels: Mapping[str, str]) -> bool:
    if labels.get("stochbox.host", _HOSTNAME) != _HOSTNAME:
        return True  # another machine's process: we cannot tell, so we leave it alone
    try:
        pid = int(labels.get("stochbox.pid", ""))
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, owned by another user
    except ValueError:
        return False  # unlabelled owner: nobody can claim it
    started = labels.get("stochbox.pid_start")
    return not started or started == _process_start_time(pid)


def cleanup_orphans(client=None) -> int:
    """Remove every stochbox sandbox container whose owner process is gone; returns how many."""
    own = client is None
    client = client or docker_client()
    removed = 0
    try:
        for container in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
            if _owner_alive(container.labels):
                continue
            try:
                container.remove(force=True)
                removed += 1
            except Exception:  # already being removed by someone else
                pass
    finally:
        if own:
            client.close()
    return removed


# --------------------------------------------------------------------------- one container


class _ServerGone(Exception):
    """The attach stream ended: the server or its container died."""


class _ServerSilent(Exception):
    """No reply before the host-side deadline."""


class _AttachedServer:
    """One container, its attach socket, and the fork-server inside it. Used by one thread at a time."""

    def __init__(self, client, image: str, options: dict[str, Any], configure: dict[str, Any]) -> None:
        self.client = client
        self.container = client.containers.create(
            # detach=False makes the SDK set StdinOnce: stdin closes when the host
            # detaches, so a crashed host's server reads EOF and exits.
            image, command=["python3", "-I", "-u", "-c", BOOT], detach=False, **options
        )
        self.hello: dict[str, Any] = {}
        self._raw = bytearray()  # undecoded attach-stream bytes
        self._out = bytearray()  # demultiplexed stdout: reply frames
        self._err = bytearray()  # demultiplexed stderr tail: diagnostics only
        try:
            self._io = client.api.attach_socket(
                self.container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            self._sock: socket.socket = self._io._sock
            self.container.start()
            deadline = time.monotonic() + START_TIMEOUT_S
            self._send_frame(server_source().encode(), deadline)
            self.hello = self.request(configure, deadline)
            if self.hello.get("op") != "hello":
                raise _ServerGone(f"unexpected first reply {str(self.hello)[:200]}")
        except BaseException:
            self.destroy()
            raise

    # -- framing over the multiplexed attach stream

    def _send_frame(self, payload: bytes, deadline: float) -> None:
        self._sock.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            self._sock.sendall(len(payload).to_bytes(4, "big") + payload)
        except socket.timeout:
            raise _ServerSilent("server did not accept the request") from None
        except OSError as err:
            raise _ServerGone(f"attach socket write failed: {err}") from None

    def _recv(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _ServerSilent("no reply before the deadline")
        self._sock.settimeout(remaining)
        try:
            chunk = self._sock.recv(1 << 20)
        except socket.timeout:
            raise _ServerSilent("no reply before the deadline") from None
        except OSError as err:
            raise _ServerGone(f"attach socket read failed: {err}") from None
        if not chunk:
            raise _ServerGone("the container's output stream ended")
        self._raw += chunk

    def _stdout_bytes(self, n: int, deadline: float) -> bytes:
        while len(self._out) < n:
            # Docker multiplexes stdout/stderr: 1 byte stream, 3 padding, 4-byte big-endian size.
            while len(self._raw) >= 8:
                stream, size = struct.unpack(">BxxxL", self._raw[:8])
                if len(self._raw) < 8 + size:
                    break
                payload = self._raw[8 : 8 + size]
                del self._raw[: 8 + size]
                if stream == 2:
                    self._err += payload
                    del self._err[: -8192]
                else:
                    self._out += payload
            if len(self._out) < n:
                self._recv(deadline)
        data = bytes(self._out[:n])
        del self._out[:n]
        return data

    def request(self, req: dict[str, Any], deadline: float) -> dict[str, Any]:
        self._send_frame(json.dumps(req).encode(), deadline)
        size = int.from_bytes(self._stdout_bytes(4, deadline), "big")
        return json.loads(self._stdout_bytes(size, deadline).decode("utf-8", "replace"))

    # -- diagnosis and teardown

    def post_mortem(self) -> str:
        """Why the server stopped answering: container state and the server's last stderr lines."""
        parts = []
        try:
            self.container.reload()
            state = self.container.attrs["State"]
            parts.append(
                f"container {state.get('Status')}, exit code {state.get('ExitCode')}"
                + (", OOM-killed" if state.get("OOMKilled") else "")
            )
        except Exception as err:
            parts.append(f"container gone ({type(err).__name__})")
        tail = self._err.decode("utf-8", "replace").strip().splitlines()[-3:]
        if tail:
            parts.append("server stderr: " + " | ".join(tail))
        return "; ".join(parts)

    def shutdown(self) -> None:
        try:
            self.request({"op": "shutdown"}, time.monotonic() + 2.0)
        except Exception:
            pass
        self.destroy()

    def destroy(self) -> None:
        try:
            self._io.close()
            self._sock.close()
        except Exception:
            pass
        try:
            self.container.remove(force=True)
        except Exception:  # already gone
            pass


def _destroy_all(servers: list[_AttachedServer]) -> None:
    while servers:
        servers.pop().destroy()


# --------------------------------------------------------------------------- the backend


class DockerSandbox(Sandbox):
    """Hardened Docker containers, ``spec.pool_size`` of them, each serving one execution at a time.

    ``run_options`` adds container options (see
    :func:`~stochbox.sandbox.docker_options.merge_options`); anything that
    would weaken the hardened defaults raises ``ConfigError`` here, before
    any container starts. Raises ``SandboxUnavailableError`` when no engine
    answers or the image is missing.
    """

    name = "docker"

    def __init__(
        self,
        spec: SandboxSpec | None = None,
        *,
        run_options: Mapping[str, Any] | None = None,
        tmp_mb: int = 64,
        margin_s: float = 5.0,
    ) -> None:
        import docker

        self.spec = spec or SandboxSpec(backend="docker")
        self.margin_s = margin_s
        self.run_id = uuid.uuid4().hex[:12]
        options = merge_options(hardened_options(self.spec, tmp_mb=tmp_mb), run_options)
        options["mem_limit"] = f"{self.spec.memory_mb + SERVER_HEADROOM_MB}m"
        options["memswap_limit"] = options["mem_limit"]
        options["labels"] = {**options.get("labels", {}), **owner_labels(self.run_id)}
        self._options = options
        self._configure = {
            "op": "configure",
            "work_root": WORK_ROOT,
            "landlock": True,  # used when the engine's seccomp profile lets it through
            "sweep": "namespace",  # the server is alone in the container's pid namespace (besides init)
            "limits": {"memory_mb": self.spec.memory_mb, "nproc": self.spec.pids},
        }
        self.client = docker_client()
        try:
            self.client.images.get(self.spec.image)
        except docker.errors.ImageNotFound:
            self.client.close()
            raise SandboxUnavailableError(
                f"the Docker sandbox image '{self.spec.image}' does not exist",
                hint="build it with: stochbox sandbox build-image",
            ) from None
        except docker.errors.DockerException as err:
            self.client.close()
            raise SandboxUnavailableError(f"the Docker engine failed: {err}", hint="check 'docker info'") from None
        self.orphans_removed = cleanup_orphans(self.client)
        self._idle: queue.LifoQueue[_AttachedServer | None] = queue.LifoQueue()
        self._live: list[_AttachedServer] = []  # every started server, for close()
        self._lock = threading.Lock()
        self._closed = False
        self._finalizer = weakref.finalize(self, _destroy_all, self._live)
        t0 = time.perf_counter()
        try:
            with ThreadPoolExecutor(max_workers=min(self.spec.pool_size, 8)) as pool:
                for server in pool.map(lambda _: self._start(), range(self.spec.pool_size)):
                    self._idle.put(server)
        except Exception as err:
            self.close()
            raise SandboxUnavailableError(
                f"could not start a Docker sandbox container from '{self.spec.image}': {err}",
                hint="check 'docker info' and rebuild the image with: stochbox sandbox build-image",
            ) from None
        self.startup_s = time.perf_counter() - t0

    def _start(self) -> _AttachedServer:
        server = _AttachedServer(self.client, self.spec.image, self._options, self._configure)
        with self._lock:
            self._live.append(server)
        return server

    def _forget(self, server: _AttachedServer) -> None:
        with self._lock:
            if server in self._live:
                self._live.remove(server)
        server.destroy()

    def _execute(self, code: str, *, timeout_s: float, seed: int, output_cap: int, globals_: dict[str, Any]) -> ExecResult:
        if self._closed:
            raise SandboxUnavailableError("this Docker sandbox is closed")
        server = self._idle.get()
        if server is None:  # a previous replacement failed: try again now
            try:
                server = self._start()
            except Exception as err:
                self._idle.put(None)
                raise SandboxUnavailableError(f"cannot start a Docker sandbox container: {err}") from None
        req = {
            "op": "exec", "id": uuid.uuid4().hex, "code": code, "seed": seed, "timeout_s": timeout_s,
            "output_cap": output_cap, "globals": globals_, "limits": {},
        }
        # Room for the server's own kill-and-drain work and for moving a capped reply.
        deadline = time.monotonic() + timeout_s + self.margin_s + 2 * output_cap / 50e6
        t0 = time.perf_counter()
        try:
            reply = server.request(req, deadline)
        except (_ServerGone, _ServerSilent, ValueError) as err:
            return self._replace(server, err, seed=seed, duration_s=time.perf_counter() - t0)
        self._idle.put(server)
        if reply.get("op") == "error":
            return ExecResult(seed=seed, backend=self.name, duration_s=time.perf_counter() - t0,
                              sandbox_error=f"sandbox server error: {reply.get('error', '')[-500:]}")
        return ExecResult(
            stdout=reply.get("stdout", ""),
            stderr=reply.get("stderr", ""),
            exit_code=reply.get("exit_code"),
            timed_out=bool(reply.get("timed_out")),
            duration_s=float(reply.get("duration_s") or 0.0),
            truncated=bool(reply.get("truncated")),
            seed=seed,
            backend=self.name,
            killed_reason=reply.get("killed_reason"),
            sandbox_error=reply.get("sandbox_error"),
        )

    def _replace(self, server: _AttachedServer, err: Exception, *, seed: int, duration_s: float) -> ExecResult:
        silent = isinstance(err, _ServerSilent)
        what = "did not answer before the host deadline" if silent else f"died ({err})"
        message = f"sandbox server {what}: {server.post_mortem()}; container replaced"
        self._forget(server)
        replacement: _AttachedServer | None = None
        if not self._closed:
            try:
                replacement = self._start()
            except Exception as start_err:
                message += f" (replacement failed: {start_err}; retried on next execution)"
        self._idle.put(replacement)
        return ExecResult(
            seed=seed, backend=self.name, duration_s=duration_s, timed_out=silent,
            killed_reason="timeout" if silent else "server_crash", sandbox_error=message,
        )

    # -- reporting

    def container_attrs(self) -> dict[str, Any]:
        """Inspected attributes of one running pool container (fresh from the engine)."""
        with self._lock:
            server = next(iter(self._live), None)
        if server is None:
            raise SandboxUnavailableError("no running sandbox container to inspect")
        server.container.reload()
        return server.container.attrs

    def layers(self) -> list[IsolationLayer]:
        try:
            attrs = self.container_attrs()
            engine_security = self.client.info().get("SecurityOptions") or []
        except Exception as err:
            return [IsolationLayer(name="docker", active=False, detail=f"cannot inspect: {err}")]
        hc, cfg = attrs["HostConfig"], attrs["Config"]
        sec = hc.get("SecurityOpt") or []
        seccomp_on = any("seccomp" in s for s in engine_security) and not any("seccomp=unconfined" in s or "seccomp:unconfined" in s for s in sec)
        user = cfg.get("User") or "root"
        no_mounts = not (hc.get("Binds") or attrs.get("Mounts"))
        env_names = sorted(e.split("=", 1)[0] for e in cfg.get("Env") or [])
        hello = self._live[0].hello.get("layers", {}) if self._live else {}
        return [
            IsolationLayer(name="network", active=hc.get("NetworkMode") == "none", detail=f"network_mode={hc.get('NetworkMode')}"),
            IsolationLayer(name="read-only root", active=bool(hc.get("ReadonlyRootfs")), detail=f"tmpfs {hc.get('Tmpfs')}"),
            IsolationLayer(name="capabilities", active=hc.get("CapDrop") == ["ALL"] and not hc.get("CapAdd"), detail=f"cap_drop={hc.get('CapDrop')} cap_add={hc.get('CapAdd')}"),
            IsolationLayer(name="no-new-privileges", active="no-new-privileges" in sec and bool(hello.get("no_new_privs", True)), detail=f"security_opt={sec}"),
            IsolationLayer(name="non-root user", active=user.split(":")[0] not in ("", "0", "root"), detail=f"user={user} (uid {hello.get('uid', '?')} observed)"),
            IsolationLayer(name="pids limit", active=bool(hc.get("PidsLimit")) and hc["PidsLimit"] > 0, detail=f"pids_limit={hc.get('PidsLimit')}"),
            IsolationLayer(name="memory limit", active=bool(hc.get("Memory")) and hc.get("MemorySwap") == hc.get("Memory"), detail=f"memory={hc.get('Memory')} memswap={hc.get('MemorySwap')}"),
            IsolationLayer(name="cpu limit", active=bool(hc.get("NanoCpus")), detail=f"nano_cpus={hc.get('NanoCpus')}"),
            IsolationLayer(name="init", active=bool(hc.get("Init")), detail="docker-init reaps orphans as pid 1"),
            IsolationLayer(name="seccomp", active=seccomp_on, detail=f"engine {engine_security}; seccomp mode {hello.get('seccomp_mode', '?')} observed"),
            IsolationLayer(name="no host mounts", active=no_mounts and not hc.get("Privileged"), detail=f"privileged={hc.get('Privileged')}"),
            IsolationLayer(name="no host environment", active=set(env_names) <= {"PATH", "LANG", "HOME", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "HOSTNAME"}, detail="env: " + ",".join(env_names)),
            IsolationLayer(name="landlock", active=bool(hello.get("landlock")), detail=f"ABI {hello.get('landlock_abi', 0)} inside the container"),
        ]

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(image=self.spec.image, pool_size=self.spec.pool_size, run_id=self.run_id)
        return info

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with self._lock:
            servers = list(self._live)
            self._live.clear()
        with ThreadPoolExecutor(max_workers=max(1, min(len(servers), 8))) as pool:
            list(pool.map(lambda s: s.shutdown(), servers))
        self.client.close()
