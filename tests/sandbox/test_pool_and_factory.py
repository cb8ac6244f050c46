"""The server pool, backend selection and the ``stochbox sandbox`` commands."""

from __future__ import annotations

import json
import os
import threading

import pytest

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox import SandboxSpec, open_sandbox
from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox


def test_pool_serves_executions_concurrently():
    code = "import json, os, time\nt0 = time.time()\ntime.sleep(1)\nprint(json.dumps([os.getppid(), t0, time.time()]))"
    with UnsafeSubprocessSandbox(python="/usr/bin/python3", spec=SandboxSpec(backend="unsafe-subprocess", pool_size=3)) as sb:
        sb.pool.start()
        results = []
        threads = [threading.Thread(target=lambda: results.append(sb.execute(code))) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(r.ok for r in results)
        spans = [json.loads(r.stdout) for r in results]
        assert len({server for server, _, _ in spans}) == 3, "each execution should have its own server"
        assert max(start for _, start, _ in spans) < min(end for _, _, end in spans), "the executions did not overlap"


def test_closed_sandbox_refuses_work():
    sb = UnsafeSubprocessSandbox(python="/usr/bin/python3")
    sb.close()
    with pytest.raises(SandboxUnavailableError):
        sb.execute("print(1)")


def test_unsafe_only_when_asked():
    sb = open_sandbox("unsafe-subprocess")
    try:
        assert sb.isolating is False and sb.describe()["isolating"] is False
    finally:
        sb.close()


def test_auto_never_falls_back_to_unconfined():
    try:
        sb = open_sandbox("auto")
    except SandboxUnavailableError as exc:
        assert "bubblewrap" in str(exc) and "docker" in str(exc)
        return
    try:
        assert sb.isolating and sb.name in ("docker", "local")
    finally:
        sb.close()


@pytest.mark.jail
def test_local_layers_are_detected(jail):
    layers = {l.name: l for l in jail.layers()}
    assert set(layers) == {"namespaces", "uid", "seccomp", "landlock", "cgroup", "rlimits"}
    seen = jail.server_layers()
    assert seen["pid_namespace"] and seen["user_namespace"] and seen["net_interfaces"] == ["lo"]
    assert seen["seccomp_mode"] == 2 and seen["no_new_privs"]
    assert seen["uid"] != 0 and layers["uid"].active
    required = [l for name, l in layers.items() if name != "cgroup"]
    assert all(l.active for l in required), [l for l in required if not l.active]
    if os.geteuid() == 0:  # root can create the jail's cgroup on this kind of machine
        assert layers["cgroup"].active, layers["cgroup"].detail


def test_cli_exec_json(capsys):
    from stochbox.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "exec", "--sandbox", "unsafe-subprocess", "--seed", "5", "--json", "-c", "print(N if 'N' in dir() else 7)"])
    out = json.loads(capsys.readouterr().out)
    assert exit_info.value.code == 0
    assert out["stdout"] == "7\n" and out["seed"] == 5 and out["backend"] == "unsafe-subprocess"


def test_cli_exec_needs_exactly_one_source(capsys):
    from stochbox.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "exec", "--sandbox", "unsafe-subprocess"])
    assert exit_info.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_cli_check_refuses_unconfined(capsys):
    from stochbox.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["sandbox", "check", "--sandbox", "unsafe-subprocess"])
    assert exit_info.value.code == 2
    assert "unconfined" in capsys.readouterr().err
