"""The containment self-test battery behind ``stochbox sandbox check``.

The battery is data (:data:`CHECKS`: name, what it proves, a probe) and one
runner, :func:`run_battery`, so every backend runs the same checks -- the
CLI, the local-jail tests and the Docker tests alike.

Contract: :func:`run_battery` plants a secret file and a secret environment
variable on the host, opens the sandbox *after* planting them (so the
server inherits nothing it should not), runs every check, closes the
sandbox and removes what it planted. Each :class:`CheckResult` says whether
the sandbox *contained* the probe (``passed``) and what was observed. A
check that cannot tell (for example, the sandbox failed in an unrelated
way) fails: the battery never passes by default.

Open the sandbox with ``pool_size=1`` so that "nothing from one execution
is visible to the next" really compares two executions on one server.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import tempfile
import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from stochbox.sandbox.base import ExecResult, Sandbox

SECRET_ENV = "STOCHBOX_CHECK_SECRET"


class CheckResult(BaseModel):
    name: str
    what: str
    passed: bool
    detail: str


@dataclass
class CheckContext:
    """What the host planted for this battery run."""

    secret: str
    secret_dir: Path
    secret_file: Path
    loopback_port: int
    notes: dict[str, str] = field(default_factory=dict)


Probe = Callable[[Sandbox, CheckContext], tuple[bool, str]]


@dataclass(frozen=True)
class Check:
    name: str
    what: str
    probe: Probe


def _run(sb: Sandbox, code: str, *, timeout_s: float = 10.0, output_cap: int = 16384, **kw) -> ExecResult:
    return sb.execute(textwrap.dedent(code), timeout_s=timeout_s, seed=kw.pop("seed", 1), output_cap=output_cap, **kw)


def _json_out(res: ExecResult) -> dict | None:
    """The last stdout line as JSON, or None when the probe did not report."""
    lines = res.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        return None


def _attempts(sb: Sandbox, attempts: dict[str, str]) -> tuple[bool, str]:
    """Run named one-line attempts; each must raise inside the sandbox. Passed = none succeeded."""
    code = "import json, os, socket\nresults = {}\n"
    for name, stmt in attempts.items():
        code += f"try:\n    {stmt}\n    results[{name!r}] = 'SUCCEEDED'\nexcept Exception as e:\n    results[{name!r}] = type(e).__name__\n"
    code += "print(json.dumps(results))\n"
    res = _run(sb, code, timeout_s=20)
    out = _json_out(res)
    if out is None or set(out) != set(attempts):
        return False, f"probe did not report (exit {res.exit_code}, {res.sandbox_error or res.stderr[-200:]!r})"
    escaped = [k for k, v in out.items() if v == "SUCCEEDED"]
    if escaped:
        return False, "succeeded: " + ", ".join(escaped)
    return True, "; ".join(f"{k}: {v}" for k, v in out.items())


# --------------------------------------------------------------------------- probes


def _network(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    return _attempts(sb, {
        "tcp 1.1.1.1:443": "socket.create_connection(('1.1.1.1', 443), timeout=2)",
        "tcp 8.8.8.8:53": "socket.create_connection(('8.8.8.8', 53), timeout=2)",
        "udp 8.8.8.8:53": "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('8.8.8.8', 53)); s.settimeout(2); s.recv(1)",
        "ipv6": "socket.create_connection(('2606:4700:4700::1111', 443), timeout=2)",
    })


def _loopback(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    port = ctx.loopback_port
    return _attempts(sb, {
        f"host 127.0.0.1:{port}": f"socket.create_connection(('127.0.0.1', {port}), timeout=2)",
        f"host localhost:{port}": f"socket.create_connection(('localhost', {port}), timeout=2)",
        "bind 127.0.0.1": "socket.socket().bind(('127.0.0.1', 0))",
    })


def _dns(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    return _attempts(sb, {
        "getaddrinfo example.com": "socket.getaddrinfo('example.com', 443)",
        "gethostbyname pypi.org": "socket.gethostbyname('pypi.org')",
    })


def _secret_file(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    ok, detail = _attempts(sb, {
        "read planted file": f"open({str(ctx.secret_file)!r}).read()",
        "list planted dir": f"os.listdir({str(ctx.secret_dir)!r})",
        "read /etc/shadow": "open('/etc/shadow').read()",
        "list host home": f"os.listdir({os.path.expanduser('~')!r})",
    })
    walk = (
        "import os, itertools\n"
        "for r, d, f in itertools.islice(os.walk('/'), 20000):\n"
        "    d[:] = [x for x in d if os.path.join(r, x) not in ('/proc', '/sys')]\n"
        "    print(r, *f)\n"
    )
    res = _run(sb, walk, timeout_s=20, output_cap=1 << 24)
    if ctx.secret in res.stdout or ctx.secret_file.name in res.stdout:
        return False, "the planted secret is reachable by walking the file system"
    return ok, detail


def _host_env(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    res = _run(sb, "import os, json; print(json.dumps(dict(os.environ)))")
    env = _json_out(res)
    if env is None:
        return False, f"probe did not report ({res.sandbox_error or res.stderr[-200:]!r})"
    leaked = [k for k, v in os.environ.items() if len(v) >= 8 and (env.get(k) == v or v in res.stdout) and k not in _HARMLESS_ENV]
    if SECRET_ENV in env or ctx.secret in res.stdout:
        return False, f"{SECRET_ENV} is visible inside"
    if leaked:
        return False, "host variables visible inside: " + ", ".join(sorted(leaked))
    return True, "inside: " + ", ".join(sorted(env))


# Same value inside and out by construction, not by leaking.
_HARMLESS_ENV = {"PATH", "LANG", "LC_ALL", "TERM", "SHELL", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"}


def _writes(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    target = ctx.secret_dir / "written-from-sandbox"
    ok, detail = _attempts(sb, {
        "/etc": "open('/etc/stochbox-escape', 'w').write('x')",
        "/usr": "open('/usr/stochbox-escape', 'w').write('x')",
        "/": "open('/stochbox-escape', 'w').write('x')",
        "/tmp (outside work dir)": "open('/tmp/stochbox-escape', 'w').write('x')",
        "/dev/shm": "open('/dev/shm/stochbox-escape', 'w').write('x')",
        "/var/tmp": "open('/var/tmp/stochbox-escape', 'w').write('x')",
        "host dir": f"open({str(target)!r}, 'w').write('x')",
        "symlink out": "os.symlink('/etc', 'etc-link'); open('etc-link/stochbox-escape', 'w').write('x')",
    })
    if target.exists() or Path("/tmp/stochbox-escape").exists():
        return False, "a file written inside appeared on the host"
    res = _run(sb, "open('inside.txt', 'w').write('ok'); print(open('inside.txt').read())")
    if res.stdout.strip() != "ok":
        return False, f"the work dir itself is not writable ({res.stderr[-200:]!r})"
    return ok, detail


def _fork_bomb(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    res = _run(sb, "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n", timeout_s=3)
    after = _run(sb, "import os; print(len([p for p in os.listdir('/proc') if p.isdigit()]))")
    if res.sandbox_error or not after.ok:
        return False, f"sandbox did not survive: {res.sandbox_error or after.sandbox_error or after.stderr[-200:]}"
    if res.duration_s > 3 + 5:
        return False, f"took {res.duration_s:.1f}s for a 3s timeout"
    return True, f"ended after {res.duration_s:.1f}s ({res.killed_reason or res.exit_code}); next execution sees {after.stdout.strip()} processes"


def _memory_bomb(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    code = "chunks = []\nwhile True:\n    chunks.append(bytearray(64 << 20))\n"
    res = _run(sb, code, timeout_s=20)
    numpy_res = _run(sb, "import numpy as np; a = np.ones((1 << 40,), dtype=np.uint8)", timeout_s=20)
    contained = [
        r.killed_reason == "memory" or "MemoryError" in r.stderr for r in (res, numpy_res)
    ]
    healthy = _run(sb, "print('alive')").stdout.strip() == "alive"
    if not all(contained) or not healthy:
        return False, f"python: {res.killed_reason or res.exit_code}, numpy: {numpy_res.killed_reason or numpy_res.exit_code}, healthy after: {healthy}"
    return True, f"stopped with killed_reason=memory after {res.duration_s:.2f}s; server healthy"


def _infinite_loop(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    res = _run(sb, "while True:\n    pass\n", timeout_s=1.0)
    child = _run(sb, "import os, time\nif os.fork() == 0:\n    os.setsid()\n    while True: pass\ntime.sleep(100)\n", timeout_s=1.0)
    ok = res.timed_out and res.killed_reason == "timeout" and res.duration_s < 3 and child.timed_out
    return ok, f"timed_out={res.timed_out} after {res.duration_s:.2f}s (limit 1s); with a setsid()'d busy child: {child.timed_out}"


def _output_flood(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    cap = 4096
    res = _run(sb, "while True:\n    print('x' * 1000)\n", timeout_s=10, output_cap=cap)
    err = _run(sb, "import sys\nwhile True:\n    sys.stderr.write('y' * 1000)\n", timeout_s=10, output_cap=cap)
    ok = res.truncated and len(res.stdout) <= cap and err.truncated and len(err.stderr) <= cap
    return ok, f"stdout truncated={res.truncated} ({len(res.stdout)} chars kept, {res.killed_reason}); stderr truncated={err.truncated}"


def _persistence(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    plant = _run(sb, """
        import os, json, time
        open('left-behind.txt', 'w').write('x')
        os.environ['STOCHBOX_LEFT_BEHIND'] = '1'
        import numpy
        numpy.stochbox_left_behind = True
        r, w = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.write(w, str(os.getpid()).encode()); os.close(w)
                time.sleep(600)
            os._exit(0)
        os.close(w)
        pid = int(os.read(r, 32))
        print(json.dumps({"cwd": os.getcwd(), "daemon": pid}))
    """)
    planted = _json_out(plant)
    if planted is None:
        return False, f"planting probe failed: {plant.sandbox_error or plant.stderr[-200:]!r}"
    look = _run(sb, f"""
        import os, json, numpy
        pid = {planted['daemon']}
        try:
            os.kill(pid, 0); alive = True
        except OSError:
            alive = False
        old = {planted['cwd']!r}
        print(json.dumps({{
            "files_here": os.listdir('.'),
            "old_dir_exists": os.path.exists(old),
            "daemon_alive": alive,
            "env": 'STOCHBOX_LEFT_BEHIND' in os.environ,
            "module_state": hasattr(numpy, 'stochbox_left_behind'),
        }}))
    """)
    seen = _json_out(look)
    if seen is None:
        return False, f"looking probe failed: {look.sandbox_error or look.stderr[-200:]!r}"
    leaks = [k for k, v in seen.items() if v]
    return not leaks, ("visible in the next execution: " + ", ".join(leaks)) if leaks else "fresh work dir, daemon gone, env and modules fresh"


def _healthy(sb: Sandbox, ctx: CheckContext) -> tuple[bool, str]:
    a = _run(sb, "import random, numpy as np; print(random.random(), np.random.rand())", seed=7)
    b = _run(sb, "import random, numpy as np; print(random.random(), np.random.rand())", seed=7)
    ok = a.ok and b.ok and a.stdout == b.stdout and a.stdout.strip() != ""
    return ok, f"two executions with seed 7 agree: {a.stdout.strip()!r}" if ok else f"unhealthy: {a.sandbox_error or a.stderr[-200:]!r}"


CHECKS: tuple[Check, ...] = (
    Check("network", "outbound TCP/UDP/IPv6 blocked", _network),
    Check("loopback", "the host's loopback services unreachable", _loopback),
    Check("dns", "name resolution blocked", _dns),
    Check("secret-file", "a planted host file unreadable, host home invisible", _secret_file),
    Check("host-env", "host environment variables absent", _host_env),
    Check("writes", "writes outside the work dir refused", _writes),
    Check("fork-bomb", "a fork bomb contained, sandbox usable after", _fork_bomb),
    Check("memory-bomb", "a memory bomb stopped and reported as memory", _memory_bomb),
    Check("infinite-loop", "an infinite loop killed on time (with a setsid child)", _infinite_loop),
    Check("output-flood", "an output flood truncated and flagged", _output_flood),
    Check("persistence", "nothing from one execution visible to the next", _persistence),
    Check("healthy", "the server still healthy and reproducible afterwards", _healthy),
)


def run_battery(open_sandbox: Callable[[], Sandbox], checks: tuple[Check, ...] = CHECKS) -> list[CheckResult]:
    """Plant secrets, open the sandbox, run ``checks``; always cleans up."""
    secret = "stochbox-secret-" + secrets.token_hex(16)
    secret_dir = Path(tempfile.mkdtemp(prefix="stochbox-check-"))
    secret_file = secret_dir / "secret.txt"
    secret_file.write_text(secret)
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    ctx = CheckContext(secret, secret_dir, secret_file, listener.getsockname()[1])
    old_env = os.environ.get(SECRET_ENV)
    os.environ[SECRET_ENV] = secret
    results: list[CheckResult] = []
    try:
        sandbox = open_sandbox()
        try:
            for check in checks:
                try:
                    passed, detail = check.probe(sandbox, ctx)
                except Exception as exc:  # a probe that crashes proves nothing: fail it
                    passed, detail = False, f"probe error: {type(exc).__name__}: {exc}"
                results.append(CheckResult(name=check.name, what=check.what, passed=passed, detail=detail))
        finally:
            sandbox.close()
    finally:
        listener.close()
        shutil.rmtree(secret_dir, ignore_errors=True)
        if old_env is None:
            os.environ.pop(SECRET_ENV, None)
        else:
            os.environ[SECRET_ENV] = old_env
    return results
