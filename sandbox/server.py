"""stochbox fork-server: runs *inside* the jail or container.

Standard library plus numpy/scipy only; it must not import stochbox (it runs
on Debian's ``/usr/bin/python3`` inside the image and the jail). The host
sends this file's source through stdin with the bootstrap in
``stochbox.sandbox.transport`` and then talks frames (4-byte big-endian
length + UTF-8 JSON) over the server's stdin/stdout; see "Sandbox wire
protocol" in docs/architecture.md.

Life of the server:

1. ``configure`` frame from the host (work root, Landlock on/off, whether it
   may sweep its pid namespace, default limits). The server imports numpy and
   ``scipy.stats`` once and answers ``hello`` with the confinement layers it
   *observes* from inside (uid, pid namespace, seccomp mode, no_new_privs,
   Landlock ABI).
2. For every ``exec`` request it forks a child: new session, fresh empty work
   dir, inherited descriptors closed, Landlock domain limited to that work
   dir (signals to the server are scoped out), rlimits, ``random``/numpy
   reseeded from the request seed, request globals set, the code run as a
   fresh ``__main__``. stdout/stderr come back through pipes, capped.
3. After the child ends (or the wall-clock deadline passes) every process
   the execution created is killed -- ``kill(-1)`` when the server is alone
   in its pid namespace, else all descendants, which the server collects as
   child subreaper -- and the work dir is removed. Nothing survives into the
   next execution.

The server writes nothing to stdout but reply frames; its own stdout/stderr
descriptors are moved away so stray prints cannot corrupt the channel.
"""

import builtins
import ctypes
import fcntl
import gc
import json
import math
import os
import random
import resource
import select
import selectors
import shutil
import signal
import sys
import time
import traceback
import types

PROTOCOL_VERSION = 1
MAX_FRAME = 1 << 30
# Output beyond this multiple of the cap is a flood: the execution is killed
# (killed_reason "output") instead of being drained until the deadline.
FLOOD_FACTOR = 8
FLOOD_MIN = 1 << 20
# How often a running execution's output pipes are drained (adaptive between these).
POLL_MIN_S = 0.002
POLL_MAX_S = 0.05
# Exit status the child uses when *its own setup* failed (not the user code).
SETUP_FAILED = 125

DEFAULT_LIMITS = {
    "memory_mb": 1024,  # address space the code may add on top of the warm server
    "nproc": 64,  # RLIMIT_NPROC (counts every process of the jail's uid)
    "nofile": 256,
    "fsize_mb": 256,
}

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
PR_SET_DUMPABLE = 4


# --------------------------------------------------------------------------- frames


def read_exact(fd, n):
    chunks = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("channel closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def read_frame(fd):
    size = int.from_bytes(read_exact(fd, 4), "big")
    if size > MAX_FRAME:
        raise ValueError("frame too large: %d bytes" % size)
    return json.loads(read_exact(fd, size).decode("utf-8"))


def write_frame(fd, obj):
    data = json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogateescape")
    view = memoryview(len(data).to_bytes(4, "big") + data)
    while view:
        view = view[os.write(fd, view) :]


# --------------------------------------------------------------------------- Landlock

# Syscall numbers are the same on every architecture (444-446).
_LL_CREATE, _LL_ADD_RULE, _LL_RESTRICT = 444, 445, 446
_LL_CREATE_VERSION = 1
_LL_RULE_PATH_BENEATH = 1

_FS_EXECUTE = 1 << 0
_FS_WRITE_FILE = 1 << 1
_FS_READ_FILE = 1 << 2
_FS_READ_DIR = 1 << 3
_FS_REMOVE_DIR = 1 << 4
_FS_REMOVE_FILE = 1 << 5
_FS_MAKE_CHAR = 1 << 6
_FS_MAKE_DIR = 1 << 7
_FS_MAKE_REG = 1 << 8
_FS_MAKE_SOCK = 1 << 9
_FS_MAKE_FIFO = 1 << 10
_FS_MAKE_BLOCK = 1 << 11
_FS_MAKE_SYM = 1 << 12
_FS_REFER = 1 << 13  # ABI 2
_FS_TRUNCATE = 1 << 14  # ABI 3
_FS_IOCTL_DEV = 1 << 15  # ABI 5
_NET_BIND_TCP = 1 << 0  # ABI 4
_NET_CONNECT_TCP = 1 << 1
_SCOPE_ABSTRACT_UNIX = 1 << 0  # ABI 6
_SCOPE_SIGNAL = 1 << 1

_FS_READ = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
_FS_WRITE_ALL = (
    _FS_WRITE_FILE | _FS_REMOVE_DIR | _FS_REMOVE_FILE | _FS_MAKE_DIR | _FS_MAKE_REG
    | _FS_MAKE_SYM | _FS_MAKE_FIFO | _FS_MAKE_SOCK
)
# Read-only (and executable) system paths; anything not listed is invisible.
_LL_READ_PATHS = ("/usr", "/lib", "/lib64", "/bin", "/etc", "/proc", "/opt", "/sys/devices/system/cpu")


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("fs", ctypes.c_uint64), ("net", ctypes.c_uint64), ("scoped", ctypes.c_uint64)]


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


def landlock_abi():
    """Landlock ABI version of the running kernel, 0 when unavailable."""
    res = _libc.syscall(_LL_CREATE, None, 0, _LL_CREATE_VERSION)
    return max(res, 0)


def landlock_restrict(read_paths, write_paths, abi):
    """Confine this process (and its future children) to the given paths.

    Read paths get read/execute; write paths get everything. TCP bind and
    connect are denied outright (ABI >= 4), and signals and abstract unix
    sockets are scoped to the domain (ABI >= 6), so the code cannot signal
    the server that forked it.
    """
    fs = _FS_READ | _FS_WRITE_ALL | _FS_MAKE_CHAR | _FS_MAKE_BLOCK
    if abi >= 2:
        fs |= _FS_REFER
    if abi >= 3:
        fs |= _FS_TRUNCATE
    if abi >= 5:
        fs |= _FS_IOCTL_DEV
    attr = _RulesetAttr(fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    ruleset = _libc.syscall(_LL_CREATE, ctypes.byref(attr), size, 0)
    if ruleset < 0:
        raise OSError(ctypes.get_errno(), "landlock_create_ruleset failed")
    try:
        write = fs & ~(_FS_MAKE_CHAR | _FS_MAKE_BLOCK | _FS_IOCTL_DEV)
        rules = [(p, _FS_READ) for p in read_paths] + [(p, write) for p in write_paths]
        rules.append(("/dev", _FS_READ_FILE | _FS_WRITE_FILE | _FS_READ_DIR))  # /dev/null, urandom
        for path, allowed in rules:
            try:
                fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            except OSError:
                continue  # path absent in this jail: nothing to allow
            try:
                if not os.path.isdir(path):
                    allowed &= _FS_EXECUTE | _FS_READ_FILE | _FS_WRITE_FILE | _FS_TRUNCATE
                rule = _PathBeneath(allowed & fs, fd)
                if _libc.syscall(_LL_ADD_RULE, ruleset, _LL_RULE_PATH_BENEATH, ctypes.byref(rule), 0) < 0:
                    raise OSError(ctypes.get_errno(), "landlock_add_rule failed for " + path)
            finally:
                os.close(fd)
        if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if _libc.syscall(_LL_RESTRICT, ruleset, 0) < 0:
            raise OSError(ctypes.get_errno(), "landlock_restrict_self failed")
    finally:
        os.close(ruleset)


# --------------------------------------------------------------------------- observation


def _status_field(name):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split(":", 1)[1].split()
    return []


def observe_layers(config):
    """What confines this server, as seen from inside (detected, not assumed)."""
    seccomp = _status_field("Seccomp")
    nnp = _status_field("NoNewPrivs")
    abi = landlock_abi()
    try:
        with open("/proc/self/uid_map") as f:
            uid_map = f.read().split()
    except OSError:
        uid_map = []
    try:
        with open("/proc/self/net/dev") as f:
            interfaces = sorted(line.split(":", 1)[0].strip() for line in f.readlines()[2:])
    except OSError:
        interfaces = None
    return {
        "uid": os.getuid(),
        "net_interfaces": interfaces,
        "gid": os.getgid(),
        "pid": os.getpid(),
        "pid_namespace": in_child_pid_namespace(),
        "user_namespace": uid_map[:3] != ["0", "0", "4294967295"],
        "seccomp_mode": int(seccomp[0]) if seccomp else 0,
        "no_new_privs": bool(nnp and nnp[0] == "1"),
        "landlock_abi": abi,
        "landlock": bool(config.get("landlock")) and abi > 0,
        "sweep": sweep_mode(config),
        "python": sys.version.split()[0],
        "executable": sys.executable,
    }


def in_child_pid_namespace():
    """True when this process is not in the machine's root pid namespace.

    ``NSpid`` lists one pid per nested namespace, but only down from the
    namespace of the mounted /proc (a jail mounts its own); so also look for
    ``kthreadd``, which exists as pid 2 only in the root pid namespace.
    """
    if len(_status_field("NSpid")) > 1:
        return True
    try:
        with open("/proc/2/comm") as f:
            return f.read().strip() != "kthreadd"
    except OSError:
        return True


def sweep_mode(config):
    """``namespace`` only when asked *and* this server really is in its own pid namespace."""
    if config.get("sweep") == "namespace" and in_child_pid_namespace():
        return "namespace"
    return "descendants"


# --------------------------------------------------------------------------- child side


_REAL_DEFAULT_RNG = []


def _seed_everything(seed):
    """Reset ``random`` and numpy's global state from ``seed``; may be called repeatedly."""
    random.seed(seed)
    np = sys.modules.get("numpy")
    if np is None:
        return
    np.random.seed([seed & 0xFFFFFFFF, seed >> 32])
    seq = np.random.SeedSequence(seed)
    if not _REAL_DEFAULT_RNG:
        _REAL_DEFAULT_RNG.append(np.random.default_rng)
    original = _REAL_DEFAULT_RNG[0]

    def default_rng(seed=None):
        # Unseeded generators derive from the execution seed, so replays reproduce.
        return original(seq.spawn(1)[0] if seed is None else seed)

    default_rng.__doc__ = original.__doc__
    np.random.default_rng = default_rng


def _set_rlimits(limits, timeout_s, baseline_as):
    mb = 1 << 20
    cpu = int(math.ceil(timeout_s)) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if limits.get("memory_mb"):
        cap = baseline_as + int(limits["memory_mb"]) * mb
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["fsize_mb"]) * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(limits["nofile"]),) * 2)
    resource.setrlimit(resource.RLIMIT_NPROC, (int(limits["nproc"]),) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _prepare_child(work, go_r, out_w, err_w, status_w, config):
    """Pre-forked child, before the request is known: confine, then wait for ``go``.

    Everything here is independent of the request, so the server does it
    ahead of time (right after the previous execution) and the request's
    latency only pays for seeding and running the code.
    """
    os.setsid()
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2, signal.SIGALRM):
        signal.signal(sig, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    devnull = os.open("/dev/null", os.O_RDONLY)
    for src, dst in ((devnull, 0), (out_w, 1), (err_w, 2), (status_w, 3), (go_r, 4)):
        os.dup2(src, dst)
    os.closerange(5, 1 << 16)
    os.chdir(work)
    os.environ.clear()
    os.environ.update({
        "HOME": work, "TMPDIR": work, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
        "PYTHONHASHSEED": "0", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
    })
    try:
        # Under a memory cgroup the OOM killer should take the execution, not the server.
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    if config.get("landlock") and landlock_abi() > 0:
        landlock_restrict(_LL_READ_PATHS, [work], landlock_abi())


def _child(work, go_r, out_w, err_w, status_w, config, baseline_as):
    """Runs in the forked child; never returns."""
    try:
        _prepare_child(work, go_r, out_w, err_w, status_w, config)
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", encoding="utf-8", errors="backslashreplace", closefd=False)
        sys.stderr = open(2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1)
        sys.argv = ["<snippet>"]
        # Warm-up while no request is waiting: the pages seeding writes get copied
        # (copy-on-write) now instead of on the request's clock. The request reseeds
        # everything from its own seed, so this leaves no trace in the results.
        _seed_everything(0)
        np = sys.modules.get("numpy")
        if np is not None:
            np.random.default_rng().random()
            np.random.random()
        try:
            req = read_frame(4)
        except EOFError:
            os._exit(0)  # the server is shutting down or replaced this spare
        os.close(4)
        limits = dict(config["limits"])
        limits.update(req.get("limits") or {})
        _set_rlimits(limits, float(req["timeout_s"]), baseline_as)
        main = types.ModuleType("__main__")
        main.__dict__.update(req.get("globals") or {})
        main.__dict__["__builtins__"] = builtins
        sys.modules["__main__"] = main
        _seed_everything(int(req["seed"]))
    except BaseException:
        try:
            os.write(3, ("setup:" + traceback.format_exc(limit=3)).encode("utf-8", "replace"))
        finally:
            os._exit(SETUP_FAILED)
    status = 0
    try:
        exec(compile(req["code"], "<snippet>", "exec"), main.__dict__)
    except SystemExit as exc:
        if exc.code is None:
            status = 0
        elif isinstance(exc.code, int):
            status = exc.code & 0xFF
        else:
            print(exc.code, file=sys.stderr)
            status = 1
    except BaseException as exc:  # the user code's own failure: report like python does
        _report_exception(exc)
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException as exc:
            _report_exception(exc)
            status = status or 1
    # Announce the status and close the output *before* exiting: tearing down the
    # address space takes milliseconds, and the server need not wait for it.
    try:
        os.close(1)
        os.close(2)
        os.write(3, b"exit:%d:%d\n" % (os.getpid(), status))
    except OSError:
        pass
    os._exit(status)


def _report_exception(exc):
    try:
        os.write(3, ("exc:%s\n" % type(exc).__name__).encode())
    except OSError:
        pass
    try:
        # Drop the server's own frame so the traceback starts at the snippet, as in python.
        tb = exc.__traceback__.tb_next if exc.__traceback__ is not None else None
        traceback.print_exception(type(exc), exc, tb)
        sys.stderr.flush()
    except BaseException:
        # Printing the traceback may itself fail under memory pressure.
        try:
            os.write(2, ("%s\n" % type(exc).__name__).encode())
        except OSError:
            pass


# --------------------------------------------------------------------------- server side


class _Capture:
    """First ``cap`` bytes of one stream; counts the rest."""

    def __init__(self, cap):
        self.cap = cap
        self.parts = []
        self.kept = 0
        self.total = 0

    def feed(self, data):
        self.total += len(data)
        room = self.cap - self.kept
        if room > 0:
            piece = data[:room]
            self.parts.append(piece)
            self.kept += len(piece)

    def text(self):
        return b"".join(self.parts).decode("utf-8", "replace")

    @property
    def truncated(self):
        return self.total > self.kept


def _children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the parenthesised command name, which may contain spaces.
        fields = stat[stat.rfind(b")") + 2 :].split()
        if int(fields[1]) == pid:
            kids.append(int(entry))
    return kids


def _reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def sweep(mode):
    """Kill every process the last execution left behind; False if some survived.

    ``namespace``: ``kill(-1)`` reaches every process of our uid in the pid
    namespace except pid 1 and the server. ``descendants``: the server is child
    subreaper, so anything that double-forked or setsid()'d away is re-parented
    to it; killing our children round after round empties the tree.
    """
    me = os.getpid()
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        if mode == "namespace":
            try:
                os.kill(-1, signal.SIGKILL)
            except ProcessLookupError:
                pass
        kids = _children_of(me)
        if not kids:
            _reap()
            if mode != "namespace" or not _others_in_namespace(me):
                return True
            time.sleep(0.001)  # orphans on their way to being re-parented to us
            continue
        for kid in kids:
            _kill_and_wait(kid, deadline)
        _reap()
    return False


def _kill_and_wait(pid, deadline):
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        return  # already reaped
    try:
        try:
            signal.pidfd_send_signal(pidfd, signal.SIGKILL)
        except ProcessLookupError:
            pass
        select.select([pidfd], [], [], max(0.0, deadline - time.monotonic()))
        try:
            os.waitid(os.P_PIDFD, pidfd, os.WEXITED | os.WNOHANG)
        except ChildProcessError:
            pass
    finally:
        os.close(pidfd)


def _others_in_namespace(me):
    """Processes of our uid other than pid 1 and us (what kill(-1) can reach)."""
    uid = os.geteuid()
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in (1, me):
            try:
                count += os.stat("/proc/" + entry).st_uid == uid
            except OSError:
                pass
    return count


def _vm_size():
    return int(_status_field("VmSize")[0]) * 1024


class _Spare:
    """A pre-forked child waiting for its request on ``go``."""

    def __init__(self, pid, work, go, out, err, status):
        self.pid, self.work, self.go = pid, work, go
        self.out, self.err, self.status = out, err, status

    def close_fds(self):
        for fd in (self.go, self.out, self.err, self.status):
            try:
                os.close(fd)
            except OSError:
                pass


class Server:
    def __init__(self, rfd, wfd):
        self.rfd, self.wfd = rfd, wfd
        self.config = {"limits": dict(DEFAULT_LIMITS)}
        self.counter = 0
        self.spare = None
        self.baseline_as = 0

    def configure(self, req):
        self.config.update({k: v for k, v in req.items() if k not in ("op", "limits")})
        self.config["limits"].update(req.get("limits") or {})
        self.config["sweep"] = sweep_mode(self.config)
        root = self.config.setdefault("work_root", "/tmp/stochbox-work")
        os.makedirs(root, mode=0o700, exist_ok=True)
        import numpy  # noqa: F401  -- warm imports, shared by every forked child
        import scipy.stats  # noqa: F401

        # Before the first fork: descendants that escape their parent come back here.
        _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        # Keep the warm heap out of the collector: a child's collections would
        # otherwise touch (and copy-on-write) every page of it.
        gc.collect()
        gc.freeze()
        self.baseline_as = _vm_size()
        layers = observe_layers(self.config)
        layers.update(numpy=numpy.__version__, scipy=sys.modules["scipy"].__version__)
        return {"op": "hello", "protocol": PROTOCOL_VERSION, "layers": layers}

    def _fork_spare(self):
        self.counter += 1
        work = os.path.join(self.config["work_root"], "x%d" % self.counter)
        shutil.rmtree(work, ignore_errors=True)
        os.mkdir(work, 0o700)
        go_r, go_w = os.pipe2(os.O_CLOEXEC)
        pipes = [os.pipe2(os.O_CLOEXEC) for _ in range(3)]
        pid = os.fork()
        if pid == 0:
            _child(work, go_r, pipes[0][1], pipes[1][1], pipes[2][1], self.config, self.baseline_as)
        os.close(go_r)
        for _, w in pipes:
            os.close(w)
        self.spare = _Spare(pid, work, go_w, pipes[0][0], pipes[1][0], pipes[2][0])

    def after_reply(self):
        """Clean up after an execution (or start-up) and have the next child ready."""
        swept = sweep(self.config["sweep"])
        for entry in os.listdir(self.config["work_root"]):
            shutil.rmtree(os.path.join(self.config["work_root"], entry), ignore_errors=True)
        if not swept:
            return False
        self._fork_spare()
        return True

    def execute(self, req):
        if self.spare is None:
            self._fork_spare()
        spare, self.spare = self.spare, None
        timeout_s = float(req["timeout_s"])
        cap = int(req.get("output_cap") or 16384)
        start = time.monotonic()
        try:
            frame = json.dumps(req).encode("utf-8", "surrogateescape")
            try:
                _write_all(spare.go, len(frame).to_bytes(4, "big") + frame)
            except BrokenPipeError:
                pass  # the spare died during setup; its status pipe says why
            os.close(spare.go)
            spare.go = -1
            reply = self._supervise(spare, start, timeout_s, cap)
        finally:
            spare.close_fds()
        reply["id"] = req.get("id")
        reply["seed"] = req.get("seed")
        return reply

    def _supervise(self, spare, start, timeout_s, cap):
        out, err, status = _Capture(cap), _Capture(cap), _Capture(1 << 16)
        outputs = {spare.out: out, spare.err: err}
        open_outputs = set(outputs)
        for fd in outputs:
            os.set_blocking(fd, False)
            _grow_pipe(fd)
        flood_limit = max(FLOOD_FACTOR * cap, cap + FLOOD_MIN)
        # The selector waits only for the child's end (its exit note, its exit) and the
        # host hanging up; outputs are drained on every wake-up and at least every
        # POLL_MAX_S. One wake-up per short execution instead of one per write.
        sel = selectors.DefaultSelector()
        sel.register(spare.status, selectors.EVENT_READ)
        pidfd = os.pidfd_open(spare.pid)
        sel.register(pidfd, selectors.EVENT_READ)
        sel.register(self.rfd, selectors.EVENT_READ)
        deadline = start + timeout_s
        killed_reason = None
        wait_status = None
        exit_note = b"exit:%d:" % spare.pid
        interval = POLL_MIN_S
        try:
            while True:
                got = _read_available(outputs, open_outputs)
                # Only the child's own note counts: forked copies share its status pipe.
                finished = wait_status is not None or exit_note in b"".join(status.parts)
                if finished and not open_outputs:
                    break
                if wait_status is not None:
                    # The child is gone but something still holds its pipes: a leftover.
                    sweep(self.config["sweep"])
                    _drain(outputs, open_outputs)
                    break
                if out.total + err.total > flood_limit:
                    killed_reason = "output"
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    killed_reason = "timeout"
                    break
                interval = POLL_MIN_S if got else min(interval * 2, POLL_MAX_S)
                for key, _ in sel.select(min(remaining, interval)):
                    if key.fd == pidfd:
                        sel.unregister(pidfd)
                        _, wait_status = os.waitpid(spare.pid, 0)
                    elif key.fd == self.rfd:
                        sel.unregister(self.rfd)
                        if _hung_up(self.rfd):
                            killed_reason = "host_gone"
                    else:
                        data = os.read(spare.status, 4096)
                        if data:
                            status.feed(data)
                        else:
                            sel.unregister(spare.status)
                if killed_reason == "host_gone":
                    break
            duration = time.monotonic() - start
            if killed_reason is not None and wait_status is None:
                _kill_tree(spare.pid)
                _, wait_status = os.waitpid(spare.pid, 0)
                sweep(self.config["sweep"])
                _drain(outputs, open_outputs)
        finally:
            sel.close()
            os.close(pidfd)
        os.set_blocking(spare.status, False)
        try:
            while data := os.read(spare.status, 4096):
                status.feed(data)
        except BlockingIOError:
            pass
        notes = status.text().splitlines()
        exit_lines = [n for n in notes if n.startswith("exit:%d:" % spare.pid)]
        if wait_status is not None:
            exit_code = os.waitstatus_to_exitcode(wait_status)
        else:
            exit_code = int(exit_lines[-1].rsplit(":", 1)[1])
        sandbox_error = None
        setup = status.text()
        if exit_code == SETUP_FAILED and setup.startswith("setup:"):
            sandbox_error = "execution setup failed inside the sandbox: " + setup[6:].strip()
        if killed_reason is None:
            if "exc:MemoryError" in notes:
                killed_reason = "memory"
            elif exit_code == -signal.SIGXCPU:
                killed_reason = "cpu"
            elif exit_code == -signal.SIGKILL and self.config.get("sigkill_means_oom"):
                # Not our kill: inside a memory cgroup (a container) that is the OOM killer.
                killed_reason = "memory"
        return {
            "stdout": out.text(),
            "stderr": err.text(),
            "stdout_bytes": out.total,
            "stderr_bytes": err.total,
            "exit_code": exit_code,
            "timed_out": killed_reason == "timeout",
            "duration_s": duration,
            "truncated": out.truncated or err.truncated,
            "killed_reason": killed_reason,
            "sandbox_error": sandbox_error,
        }


def _hung_up(fd):
    """True when the peer closed ``fd`` (a pipe or socket), without consuming any data."""
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLRDHUP)
    return any(ev & (select.POLLHUP | select.POLLRDHUP | select.POLLERR) for _, ev in poller.poll(0))


def _write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _kill_tree(pid):
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
        except ProcessLookupError:
            pass


def _grow_pipe(fd):
    """Give a child's output pipe room (1 MiB) so it rarely waits for the server to drain it."""
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, 1 << 20)
    except OSError:
        pass  # over the user's pipe quota: the default 64 KiB still works


def _read_available(outputs, open_outputs):
    """Read what the non-blocking ``open_outputs`` hold now; drop those at EOF. True if anything came."""
    got = False
    for fd in list(open_outputs):
        for _ in range(32):  # at most 2 MiB per call, so a flood cannot starve the deadline checks
            try:
                data = os.read(fd, 1 << 16)
            except BlockingIOError:
                break
            if not data:
                open_outputs.discard(fd)
                break
            outputs[fd].feed(data)
            got = True
    return got


def _drain(outputs, open_outputs):
    """After the execution's processes are dead: read the outputs to EOF (bounded)."""
    deadline = time.monotonic() + 1.0
    while open_outputs and time.monotonic() < deadline:
        _read_available(outputs, open_outputs)
        if open_outputs:
            select.select(list(open_outputs), [], [], 0.05)


def _retire(rfd, wfd):
    """Answer the next request with "retire" (without running it): the host replaces this server and retries."""
    try:
        req = read_frame(rfd)
    except EOFError:
        return
    write_frame(wfd, {"op": "retire", "id": req.get("id")})


def serve(rfd, wfd):
    server = Server(rfd, wfd)
    while True:
        try:
            req = read_frame(rfd)
        except EOFError:
            break
        op = req.get("op")
        try:
            if op == "exec":
                reply = server.execute(req)
                if reply.get("killed_reason") == "host_gone":
                    break
            elif op == "configure":
                reply = server.configure(req)
            elif op == "ping":
                reply = {"op": "pong", "id": req.get("id"), "executions": server.counter}
            elif op == "shutdown":
                write_frame(wfd, {"op": "bye", "id": req.get("id")})
                break
            else:
                reply = {"op": "error", "id": req.get("id"), "error": "unknown op %r" % (op,)}
        except Exception:
            reply = {"op": "error", "id": req.get("id"), "error": traceback.format_exc(limit=5)}
        write_frame(wfd, reply)
        if op in ("exec", "configure") and reply.get("op") != "error":
            # Clean-up and the next pre-fork run while the host reads the reply.
            if not server.after_reply():
                # Something outlived SIGKILL (stuck in the kernel?). The next request
                # gets "retire" instead of running: the host restarts us and retries it.
                _retire(rfd, wfd)
                break
    sweep(server.config.get("sweep", "descendants"))


def main():
    # Keep BLAS single-threaded: threads do not survive fork, and rlimits are per process.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = "1"
    # Move the protocol channel off 0/1 so neither the server nor a child can scribble on it.
    rfd = os.dup(0)
    wfd = os.dup(1)
    os.set_inheritable(rfd, False)
    os.set_inheritable(wfd, False)
    devnull = os.open("/dev/null", os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    # Non-dumpable: executions (same uid) cannot open /proc/<server>/mem, fd/, environ
    # even where Landlock's ptrace scoping is unavailable. Children turn it back on.
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    # No PR_SET_PDEATHSIG: it fires when the *thread* that spawned us exits. The server
    # ends on EOF of its channel instead, and bwrap/containers add die-with-parent.
    serve(rfd, wfd)


if __name__ == "__main__":
    main()
