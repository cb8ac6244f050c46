"""``docker`` backend: a pool of hardened, long-lived containers, one fork-server each.

Each pool slot is one container started from the sandbox image (see
:mod:`stochbox.sandbox.image`) with the options of
:mod:`stochbox.sandbox.docker_options` -- no network, read-only root, a
size-capped noexec tmpfs ``/tmp``, memory/CPU/pids limits, all capabilities
dropped, no-new-privileges, a non-root uid of its own, an init process, no
host environment and no host mounts; the local jail's seccomp filter is
stacked on the engine's profile (:data:`SECCOMP_PRELUDE`). The container's
command is the bootstrap of :mod:`stochbox.sandbox.transport`; the host attaches to its
stdin/stdout (:class:`DockerChannel`, which demultiplexes Docker's 8-byte
stream headers) and :class:`~stochbox.sandbox.transport.ManagedServer`
speaks the frame protocol of ``docs/architecture.md`` over it, exactly as
for the local jail.

Contract (beyond :class:`~stochbox.sandbox.base.Sandbox`):

* The image must provide ``/usr/bin/python3`` with numpy and scipy (both
  recipes of :mod:`stochbox.sandbox.image` do); nothing else of it is used.

* The execution timeout is enforced by the server. If the server does not
  answer within ``timeout_s`` plus a grace period, or its container dies,
  the container is removed, the call returns an ``ExecResult`` with
  ``sandbox_error`` set, and the next execution starts a fresh container.
* Containers carry the label ``stochbox.sandbox=1`` plus the owning host,
  pid and pid start time. Opening a ``DockerSandbox`` first removes
  containers whose owner process is gone (:func:`cleanup_orphans`). Stdin
  closes when the host detaches (``StdinOnce``), so a crashed host's servers
  exit by themselves; their stopped containers go at the next start-up.
* :meth:`DockerSandbox.layers` reads the confinement back from the running
  container's inspected configuration (and the server's own report from
  inside); it does not assume it.
"""

from __future__ import annotations

import functools
import os
import socket
import struct
import threading
import time
import uuid
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox.base import IsolationLayer, SandboxSpec
from stochbox.sandbox.docker_options import LABEL, hardened_options, merge_options
from stochbox.sandbox.pool import PooledSandbox, ServerPool
from stochbox.sandbox.seccomp_filter import SeccompUnavailable, build_bpf
from stochbox.sandbox.transport import BOOTSTRAP, SERVER_ENV, ManagedServer, ServerLost, bootstrap_argv

WORK_ROOT = "/tmp/stochbox-work"
#: Memory the warm server itself needs on top of what one execution may use
#: (the execution's own cap is the server's RLIMIT_AS; the cgroup is the backstop).
SERVER_HEADROOM_MB = 256
#: First uid of sandbox containers: one uid per pool slot, so RLIMIT_NPROC of a
#: fork bomb in one container never starves another (the count is per host uid).
#: Disjoint from the local jail's range (61000-77383).
DOCKER_UID_BASE = 90000
_HOSTNAME = socket.gethostname()

#: Runs before the transport's bootstrap: reads one frame holding the jail's
#: classic-BPF seccomp program (empty: none) and installs it on top of the
#: engine's profile, so the container denies what the local jail denies
#: (non-AF_UNIX sockets, io_uring, ptrace, namespaces, ...), which Docker's
#: default profile partly allows.
SECCOMP_PRELUDE = (
    "import ctypes, os\n"
    "def _r(n):\n"
    " b=b''\n"
    " while len(b)<n:\n"
    "  c=os.read(0,n-len(b))\n"
    "  if not c: raise SystemExit(3)\n"
    "  b+=c\n"
    " return b\n"
    "_p=_r(int.from_bytes(_r(4),'big'))\n"
    "if _p:\n"
    " class _F(ctypes.Structure): _fields_=[('len',ctypes.c_ushort),('filter',ctypes.c_void_p)]\n"
    " _b=ctypes.create_string_buffer(_p,len(_p))\n"
    " _l=ctypes.CDLL(None,use_errno=True)\n"
    " if _l.prctl(38,1,0,0,0)!=0 or _l.prctl(22,2,ctypes.byref(_F(len(_p)//8,ctypes.addressof(_b))),0,0)!=0:\n"
    "  raise SystemExit('stochbox: seccomp filter not installed, errno %d'%ctypes.get_errno())\n"
)


def docker_client(timeout_s: float = 60.0):
    """A Docker SDK client for the environment's engine (``DOCKER_HOST`` or the local socket)."""
    import docker

    try:
        return docker.from_env(timeout=timeout_s)
    except docker.errors.DockerException as err:
        raise SandboxUnavailableError(
            f"no Docker engine answers: {err}",
            hint="start dockerd (as root: bash docker/ci-setup.sh), or use --sandbox local",
        ) from None


def docker_available(timeout_s: float = 1.0) -> bool:
    """Whether a Docker engine answers a ping within ``timeout_s`` (cheap: used by ``--sandbox auto``)."""
    if not os.environ.get("DOCKER_HOST") and not os.path.exists("/var/run/docker.sock"):
        return False  # the common no-engine case, decided without importing the SDK
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


# --------------------------------------------------------------------------- ownership labels


def _process_start_time(pid: int) -> str:
    """Start time of ``pid`` in clock ticks since boot ('' if unknown): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return ""
    return stat[stat.rfind(b")") + 2 :].split()[19].decode()


def owner_labels(run_id: str) -> dict[str, str]:
    """Labels that identify a sandbox container and the process that owns it."""
    pid = os.getpid()
    return {
        LABEL: "1",
        "stochbox.run": run_id,
        "stochbox.host": _HOSTNAME,
        "stochbox.pid": str(pid),
        "stochbox.pid_start": _process_start_time(pid),
    }


def owner_alive(labels: Mapping[str, str]) -> bool:
    """Whether the process named by a container's labels still runs (other hosts: assumed alive)."""
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
        return False  # no owner recorded: nobody can claim it
    started = labels.get("stochbox.pid_start")
    return not started or started == _process_start_time(pid)


def cleanup_orphans(client=None) -> int:
    """Remove every stochbox sandbox container whose owner process is gone; returns how many."""
    own = client is None
    client = client or docker_client()
    removed = 0
    try:
        for container in client.containers.list(all=True, filters={"label": f"{LABEL}=1"}):
            if owner_alive(container.labels):
                continue
            try:
                container.remove(force=True)
                removed += 1
            except Exception:  # removed concurrently by someone else
                pass
    finally:
        if own:
            client.close()
    return removed


# --------------------------------------------------------------------------- the channel


class DockerChannel:
    """A :class:`~stochbox.sandbox.transport.Channel` over a container's attach socket.

    With ``tty=False`` Docker multiplexes stdout and stderr on the socket as
    frames of an 8-byte header (stream id, 3 padding bytes, big-endian size)
    and a payload; stdout payloads carry the protocol, stderr is kept as a
    short tail for diagnostics. ``kill`` removes the container.
    """

    SEND_TIMEOUT_S = 30.0

    def __init__(self, container, sock_io) -> None:
        self.container = container
        self._io = sock_io
        self._sock: socket.socket = sock_io._sock
        self._raw = bytearray()  # undecoded attach-stream bytes
        self._out = bytearray()  # demultiplexed stdout
        self._err = bytearray()  # demultiplexed stderr (tail)
        self._lock = threading.Lock()
        self._killed = False

    def send(self, data: bytes) -> None:
        self._sock.settimeout(self.SEND_TIMEOUT_S)
        try:
            self._sock.sendall(data)
        except OSError as exc:  # includes socket.timeout: a server that stopped reading
            raise ServerLost(f"cannot write to the container: {exc}") from None

    def recv_exact(self, n: int, deadline: float) -> bytes:
        while len(self._out) < n:
            self._demux()
            if len(self._out) >= n:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ServerLost("server did not answer in time")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(1 << 20)
            except socket.timeout:
                raise ServerLost("server did not answer in time") from None
            except OSError as exc:
                raise ServerLost(f"attach socket failed: {exc}") from None
            if not chunk:
                raise ServerLost("the container's output stream ended")
            self._raw += chunk
        data = bytes(self._out[:n])
        del self._out[:n]
        return data

    def _demux(self) -> None:
        while len(self._raw) >= 8:
            stream, size = struct.unpack(">BxxxL", self._raw[:8])
            if len(self._raw) < 8 + size:
                return
            payload = self._raw[8 : 8 + size]
            del self._raw[: 8 + size]
            if stream == 2:
                self._err += payload
                del self._err[:-4096]
            else:
                self._out += payload

    def kill(self) -> None:
        with self._lock:
            if self._killed:
                return
            self._killed = True
        for closer in (self._io.close, self._sock.close):
            try:
                closer()
            except OSError:
                pass
        try:
            self.container.remove(force=True)
        except Exception:  # already gone
            pass

    def diagnostics(self) -> str:
        parts = []
        try:
            self.container.reload()
            state = self.container.attrs["State"]
            parts.append(
                f"container {self.container.short_id} {state.get('Status')}, exit code {state.get('ExitCode')}"
                + (", OOM-killed" if state.get("OOMKilled") else "")
            )
        except Exception as exc:
            parts.append(f"container {self.container.short_id} gone ({type(exc).__name__})")
        self._demux()
        tail = self._err.decode("utf-8", "replace").strip().splitlines()[-3:]
        if tail:
            parts.append("stderr: " + " / ".join(tail))
        return "; ".join(parts)


def _kill_channels(channels: list[DockerChannel]) -> None:
    for channel in list(channels):
        channel.kill()


# --------------------------------------------------------------------------- the backend


class DockerSandbox(PooledSandbox):
    """Hardened Docker containers, ``spec.pool_size`` of them, each serving one execution at a time.

    ``run_options`` (default: ``spec.docker_options``) adds container options (see
    :func:`~stochbox.sandbox.docker_options.merge_options`); an option that
    would weaken the hardened defaults raises ``ConfigError`` before any
    container starts. Raises ``SandboxUnavailableError`` when no engine
    answers, the image is missing, or a container cannot start.
    """

    name = "docker"
    isolating = True

    def __init__(self, spec: SandboxSpec | None = None, *, run_options: Mapping[str, Any] | None = None, tmp_mb: int = 64) -> None:
        import docker

        self.spec = spec or SandboxSpec(backend="docker")
        self.run_id = uuid.uuid4().hex[:12]
        if run_options is None:
            run_options = self.spec.docker_options
        options = merge_options(hardened_options(self.spec, tmp_mb=tmp_mb), run_options)
        options["mem_limit"] = options["memswap_limit"] = f"{self.spec.memory_mb + SERVER_HEADROOM_MB}m"
        options["labels"] = {**options.get("labels", {}), **owner_labels(self.run_id)}
        self._fixed_user = "user" in run_options
        try:
            self._seccomp, self._seccomp_problem = build_bpf(), ""
        except SeccompUnavailable as exc:
            self._seccomp, self._seccomp_problem = b"", str(exc)
        self._options = options
        self._channels: list[DockerChannel] = []
        self._channels_lock = threading.Lock()
        # A sandbox dropped without close() still removes its containers at exit.
        weakref.finalize(self, _kill_channels, self._channels)
        self.client = docker_client()
        try:
            self.image_id = self.client.images.get(self.spec.image).id
            self.orphans_removed = cleanup_orphans(self.client)
        except docker.errors.ImageNotFound:
            self.client.close()
            raise SandboxUnavailableError(
                f"the Docker sandbox image '{self.spec.image}' does not exist",
                hint="build it with: stochbox sandbox build-image",
            ) from None
        except docker.errors.DockerException as exc:
            self.client.close()
            raise SandboxUnavailableError(f"the Docker engine failed: {exc}", hint="check 'docker info'") from None
        config = {
            "work_root": WORK_ROOT,
            "landlock": True,  # applied when the engine's seccomp profile lets Landlock through
            "sweep": "namespace",  # alone in the container's pid namespace (besides docker-init)
            "limits": {"memory_mb": self.spec.memory_mb, "nproc": self.spec.pids},
        }
        servers = [
            ManagedServer(functools.partial(self._launch, slot), config, backend=self.name)
            for slot in range(self.spec.pool_size)
        ]
        self.pool = ServerPool(servers)
        try:
            self.pool.start()
        except BaseException:
            self.client.close()
            raise

    def _launch(self, slot: int) -> DockerChannel:
        import docker

        options = dict(self._options)
        if not self._fixed_user:
            uid = DOCKER_UID_BASE + 256 * (os.getpid() % 64) + slot
            options["user"] = f"{uid}:{uid}"
        options["labels"] = {**options["labels"], "stochbox.slot": str(slot)}
        try:
            # detach=False makes the SDK set StdinOnce: stdin closes when the host
            # detaches, so a crashed host's server reads EOF and exits.
            container = self.client.containers.create(
                self.spec.image, command=self._command(), detach=False, **options
            )
            sock_io = self.client.api.attach_socket(
                container.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
            )
            channel = DockerChannel(container, sock_io)
            container.start()
            channel.send(len(self._seccomp).to_bytes(4, "big") + self._seccomp)
        except docker.errors.DockerException as exc:
            raise SandboxUnavailableError(
                f"cannot start a sandbox container from '{self.spec.image}': {exc}",
                hint="check 'docker info'; rebuild the image with: stochbox sandbox build-image",
            ) from None
        with self._channels_lock:
            self._channels[:] = [c for c in self._channels if not c._killed] + [channel]
        return channel

    @staticmethod
    def _command() -> list[str]:
        """The transport's bootstrap command with the seccomp prelude in front of its code."""
        argv = bootstrap_argv("/usr/bin/python3")
        argv[argv.index(BOOTSTRAP)] = SECCOMP_PRELUDE + BOOTSTRAP
        return argv

    # -- reporting

    def container_attrs(self) -> dict[str, Any]:
        """Inspected attributes of one running pool container, fresh from the engine."""
        with self._channels_lock:
            live = [c for c in self._channels if not c._killed]
        if not live:
            raise SandboxUnavailableError("no running sandbox container to inspect")
        live[0].container.reload()
        return live[0].container.attrs

    def layers(self) -> list[IsolationLayer]:
        try:
            attrs = self.container_attrs()
            engine_security = self.client.info().get("SecurityOptions") or []
        except Exception as exc:
            return [IsolationLayer(name="docker", active=False, detail=f"cannot inspect the container: {exc}")]
        hc, cfg = attrs["HostConfig"], attrs["Config"]
        sec = hc.get("SecurityOpt") or []
        seen = self.server_layers()
        user = cfg.get("User") or "root"
        env_names = sorted(e.split("=", 1)[0] for e in cfg.get("Env") or [])
        seccomp = any("name=seccomp" in s for s in engine_security) and not any("unconfined" in s for s in sec)
        return [
            IsolationLayer(name="network", active=hc.get("NetworkMode") == "none" and seen.get("net_interfaces", ["lo"]) == ["lo"],
                           detail=f"network_mode={hc.get('NetworkMode')}; interfaces inside: {seen.get('net_interfaces')}"),
            IsolationLayer(name="read-only root", active=bool(hc.get("ReadonlyRootfs")), detail=f"tmpfs {hc.get('Tmpfs')}"),
            IsolationLayer(name="capabilities", active=hc.get("CapDrop") == ["ALL"] and not hc.get("CapAdd") and not hc.get("Privileged"),
                           detail=f"cap_drop={hc.get('CapDrop')} cap_add={hc.get('CapAdd')} privileged={hc.get('Privileged')}"),
            IsolationLayer(name="no-new-privileges", active="no-new-privileges" in sec and bool(seen.get("no_new_privs")),
                           detail=f"security_opt={sec}; observed inside: {seen.get('no_new_privs')}"),
            IsolationLayer(name="uid", active=user.split(":")[0] not in ("", "0", "root") and seen.get("uid") not in (None, 0),
                           detail=f"user={user}; observed uid {seen.get('uid')}"),
            IsolationLayer(name="pids limit", active=(hc.get("PidsLimit") or 0) > 0, detail=f"pids_limit={hc.get('PidsLimit')}"),
            IsolationLayer(name="memory limit", active=bool(hc.get("Memory")) and hc.get("MemorySwap") == hc.get("Memory"),
                           detail=f"cgroup memory={hc.get('Memory')} memswap={hc.get('MemorySwap')}; per execution +{self.spec.memory_mb} MiB address space"),
            IsolationLayer(name="cpu limit", active=bool(hc.get("NanoCpus")), detail=f"nano_cpus={hc.get('NanoCpus')}"),
            IsolationLayer(name="init", active=bool(hc.get("Init")), detail="docker-init is pid 1 and reaps orphans"),
            IsolationLayer(name="seccomp", active=seccomp and seen.get("seccomp_mode") == 2,
                           detail=f"engine {engine_security}; observed seccomp mode {seen.get('seccomp_mode')}"),
            IsolationLayer(name="stochbox seccomp", active=bool(self._seccomp) and seen.get("seccomp_mode") == 2,
                           detail="the jail's filter stacked on the engine's: no sockets but AF_UNIX; no ptrace, mount, namespaces, bpf, io_uring"
                           if self._seccomp else self._seccomp_problem),
            IsolationLayer(name="no host mounts", active=not (hc.get("Binds") or attrs.get("Mounts")), detail=f"mounts={attrs.get('Mounts')}"),
            IsolationLayer(name="no host environment", active=set(env_names) <= set(SERVER_ENV), detail="env: " + ", ".join(env_names)),
            IsolationLayer(name="landlock", active=bool(seen.get("landlock")), detail=f"ABI {seen.get('landlock_abi', 0)} inside the container"),
        ]

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(image=self.spec.image, image_id=self.image_id, run_id=self.run_id)
        return info

    def close(self) -> None:
        super().close()
        self.client.close()
