"""``local``: the fork-server in an unprivileged bubblewrap jail, no Docker needed.

Layers (each detected, see :meth:`LocalSandbox.layers`):

* **namespaces** -- ``bwrap --unshare-all`` (user, pid, net, ipc, uts,
  cgroup), ``--die-with-parent``, ``--new-session``, ``--clearenv``; the
  file system is a tmpfs root with read-only binds of ``/usr`` (plus the
  ``/lib*``, ``/bin`` symlinks) and a handful of ``/etc`` files the dynamic
  linker and BLAS need; ``/tmp`` is a size-capped tmpfs. No host home, no
  host environment, no host path holding secrets is visible.
* **uid** -- when stochbox runs as root, each pool slot's jail runs as its
  own high uid (61000+), so RLIMIT_NPROC binds and nothing owned by root is
  readable. Run as a normal user, the jail keeps that user's uid: the
  process limit then counts *all* of that user's processes, so keep
  ``pids`` well above what the user already runs.
* **seccomp** -- :mod:`stochbox.sandbox.seccomp_filter` (no sockets but
  AF_UNIX, no ptrace/mount/namespaces/bpf/...), loaded by bwrap.
* **landlock** -- applied by the server per execution: read-only system
  paths, read-write only in the execution's work dir, TCP denied, signals to
  the server scoped out.
* **cgroup** -- when stochbox runs as root, each slot's jail joins its own
  cgroup (:mod:`stochbox.sandbox.cgroup_limits`) before it starts: memory
  (``memory_mb`` plus the server's headroom, tmpfs included), pids and CPU
  (``cpus``, a CFS quota) for the whole tree, which rlimits cannot give; executions are the OOM killer's
  first choice, so the server survives.
* **rlimits** -- CPU (from the timeout), address space (``memory_mb``),
  file size, open files, processes (``pids``).

Without the cgroup layer (a normal user without a delegated hierarchy)
there is no *aggregate* memory cap: a contained process tree can use at
most ``pids x memory_mb`` of address space before the wall-clock timeout
ends it. Use the Docker backend where that matters.

:func:`jail_problem` says why the jail cannot start here (None when it can).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox.base import IsolationLayer, SandboxSpec
from stochbox.sandbox.cgroup_limits import JailCgroup
from stochbox.sandbox.landlock import abi_version, describe as describe_landlock
from stochbox.sandbox.pool import PooledSandbox, ServerPool
from stochbox.sandbox.seccomp_filter import SeccompUnavailable, bpf_fd, build_bpf
from stochbox.sandbox.transport import SERVER_ENV, ManagedServer, bootstrap_argv, spawn_pipe_channel

DEFAULT_PYTHON = "/usr/bin/python3"
#: First uid used for jails when stochbox runs as root (one uid per pool slot).
JAIL_UID_BASE = 61000
#: Work root inside the jail (on the jail's own tmpfs).
WORK_ROOT = "/tmp/stochbox-work"
TMPFS_MB = 512
#: Memory a jail's cgroup allows on top of one execution's ``memory_mb``: the warm
#: server, the pre-forked child and the tmpfs work dir.
CGROUP_HEADROOM_MB = 256 + TMPFS_MB

# Files from /etc that Python, numpy and the dynamic linker need. Nothing else from /etc.
_ETC_FILES = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "localtime", "nsswitch.conf")
_INSTALL_HINT = "install bubblewrap (Debian/Ubuntu: apt-get install bubblewrap) or Docker (apt-get install docker.io)"


def _base_args() -> list[str]:
    args = ["--unshare-all", "--unshare-user", "--die-with-parent", "--new-session", "--clearenv"]
    args += ["--hostname", "stochbox-sandbox", "--cap-drop", "ALL", "--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            args += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            args += ["--ro-bind", str(host), f"/{name}"]
    args += ["--dir", "/etc"]
    for name in _ETC_FILES:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    args += ["--proc", "/proc", "--dev", "/dev", "--size", str(TMPFS_MB << 20), "--tmpfs", "/tmp", "--chdir", "/tmp"]
    for key, value in SERVER_ENV.items():
        args += ["--setenv", key, value]
    return args


def _interpreter_binds(python: str) -> list[str]:
    """Read-only binds an interpreter outside /usr needs (its installation prefix)."""
    real = Path(os.path.realpath(python))
    if real.is_relative_to("/usr"):
        return []
    prefix = real.parent.parent
    return ["--ro-bind", str(prefix), str(prefix)]


@functools.cache
def jail_problem(python: str = DEFAULT_PYTHON) -> str | None:
    """Why the local jail cannot start here, or None if a probe jail ran fine."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        return f"bubblewrap (bwrap) is not installed; {_INSTALL_HINT}"
    if not os.access(python, os.X_OK):
        return f"the jail's interpreter {python} is missing (apt-get install python3 python3-numpy python3-scipy)"
    uid_kwargs = _uid_kwargs(0)
    try:
        proc = subprocess.run(
            [bwrap, *_base_args(), *_interpreter_binds(python), python, "-c", "import numpy, scipy.stats"],
            capture_output=True, timeout=60, env=SERVER_ENV, cwd="/", **uid_kwargs,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bubblewrap could not start: {exc}"
    if proc.returncode < 0:
        return f"the probe jail was killed by signal {-proc.returncode}"
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip().splitlines()
        tail = err[-1] if err else f"exit status {proc.returncode}"
        if "namespace" in tail or "Operation not permitted" in tail:
            return f"bubblewrap cannot create user namespaces here ({tail}); enable unprivileged user namespaces or use Docker"
        return f"the jail's python cannot import numpy and scipy ({tail}); apt-get install python3-numpy python3-scipy"
    return None


def _jail_uid(slot: int) -> int:
    # Spread concurrent stochbox processes over uid ranges; a collision only shares NPROC counts.
    return JAIL_UID_BASE + 256 * (os.getpid() % 64) + slot


def _uid_kwargs(slot: int) -> dict[str, Any]:
    if os.geteuid() != 0:
        return {}
    uid = _jail_uid(slot)
    return {"user": uid, "group": uid, "extra_groups": []}


class LocalSandbox(PooledSandbox):
    name = "local"
    isolating = True

    def __init__(self, spec: SandboxSpec | None = None, *, python: str = DEFAULT_PYTHON) -> None:
        self.spec = spec or SandboxSpec(backend="local")
        self.python = python
        problem = jail_problem(python)
        if problem is not None:
            raise SandboxUnavailableError(f"the local jail cannot start: {problem}")
        try:
            self._seccomp: bytes | None = build_bpf()
            self._seccomp_problem = ""
        except SeccompUnavailable as exc:
            self._seccomp, self._seccomp_problem = None, str(exc)
        # One cgroup per slot (root only): caps the whole tree, which rlimits cannot.
        setpriv = shutil.which("setpriv")
        token = f"{os.getpid()}-{id(self) & 0xFFFFFF:x}"
        self._cgroups: list[JailCgroup | None] = [
            JailCgroup.create(
                f"{token}-{slot}", (self.spec.memory_mb + CGROUP_HEADROOM_MB) << 20, self.spec.pids + 8, self.spec.cpus
            )
            if setpriv else None
            for slot in range(self.spec.pool_size)
        ]
        servers = [
            ManagedServer(
                functools.partial(self._launch, slot),
                {
                    "work_root": WORK_ROOT,
                    "landlock": True,
                    "sweep": "namespace",
                    "sigkill_means_oom": self._cgroups[slot] is not None,
                    "limits": {"memory_mb": self.spec.memory_mb, "nproc": self.spec.pids},
                },
                backend=self.name,
            )
            for slot in range(self.spec.pool_size)
        ]
        self.pool = ServerPool(servers)
        try:
            self.pool.start()
        except BaseException:
            self._remove_cgroups()
            raise

    def _launch(self, slot: int):
        bwrap = shutil.which("bwrap") or "bwrap"
        cgroup = self._cgroups[slot]
        argv: list[str] = []
        uid_kwargs = _uid_kwargs(slot)
        if cgroup is not None:
            # Join the cgroup as root, then drop to the jail uid, then bwrap: every process is inside.
            uid = _jail_uid(slot)
            argv += cgroup.join_prefix()
            argv += [shutil.which("setpriv") or "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--inh-caps=-all", "--"]
            uid_kwargs = {}
        argv += [bwrap, *_base_args(), *_interpreter_binds(self.python)]
        pass_fds: tuple[int, ...] = ()
        fd = None
        if self._seccomp is not None:
            fd = bpf_fd(self._seccomp)
            argv += ["--seccomp", str(fd)]
            pass_fds = (fd,)
        argv += bootstrap_argv(self.python)
        try:
            return spawn_pipe_channel(argv, env=SERVER_ENV, cwd="/", pass_fds=pass_fds, **uid_kwargs)
        finally:
            if fd is not None:
                os.close(fd)

    def layers(self) -> list[IsolationLayer]:
        seen = self.server_layers()
        uid = seen.get("uid")
        landlock_abi = int(seen.get("landlock_abi", 0))
        ns = bool(seen.get("pid_namespace")) and bool(seen.get("user_namespace"))
        return [
            IsolationLayer(
                name="namespaces", active=ns and seen.get("net_interfaces") == ["lo"],
                detail=f"bwrap: user, pid, net (interfaces: {seen.get('net_interfaces')}), ipc, uts, cgroup; read-only /usr",
            ),
            IsolationLayer(
                name="uid", active=uid not in (None, 0),
                detail=f"runs as uid {uid}" + (" (dedicated jail uid: RLIMIT_NPROC binds)" if os.geteuid() == 0 else " (the invoking user's uid: RLIMIT_NPROC counts all its processes)"),
            ),
            IsolationLayer(
                name="seccomp", active=seen.get("seccomp_mode") == 2,
                detail="no sockets but AF_UNIX; no ptrace, mount, namespaces, bpf, keyrings, io_uring" if self._seccomp else self._seccomp_problem,
            ),
            IsolationLayer(
                name="landlock", active=bool(seen.get("landlock")),
                detail=f"read-only system paths, read-write only in the work dir; {describe_landlock(landlock_abi or abi_version())}",
            ),
            IsolationLayer(
                name="cgroup", active=self._cgroups[0] is not None,
                detail=self._cgroups[0].describe() if self._cgroups[0] else "not available (needs root or a delegated cgroup hierarchy): no aggregate memory cap",
            ),
            IsolationLayer(
                name="rlimits", active=True,
                detail=f"cpu from timeout, address space +{self.spec.memory_mb} MiB, nproc {self.spec.pids}, fsize, nofile",
            ),
        ]

    def _remove_cgroups(self) -> None:
        for cgroup in self._cgroups:
            if cgroup is not None:
                cgroup.remove()

    def close(self) -> None:
        super().close()
        self._remove_cgroups()
