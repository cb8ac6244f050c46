"""Sandbox faults in the middle of a tool-mode episode: a crashed fork-server, a killed container.

The execution comes back as a ``sandbox_error`` (never an exception), the
episode goes on or is recorded with its reason, the backend starts a fresh
server for the next execution, and the run finishes.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from stochbox.run.config import RunConfig
from stochbox.errors import SandboxUnavailableError
from stochbox.run.runner import start_run
from stochbox.sandbox import open_sandbox
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace

#: A slow execution, so the fault arrives while it runs.
SLOW = "import time\ntime.sleep(6)\nprint(0.5)"


def _kill_when_served(stub, kill) -> tuple[threading.Thread, list[str]]:
    """Call ``kill()`` one second after the stub has handed out the slow tool call."""
    killed: list[str] = []

    def run() -> None:
        deadline = time.monotonic() + 60
        while not stub.faults_served and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
        killed.extend(kill())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, killed


def _tool_run(stub, pack, sandbox, tmp_path, n=3):
    cfg = RunConfig.model_validate(
        dict(models=["openai:stub"], base_url=stub.url, packs=[str(pack)], n=n, reference_n=200, concurrency=1, seed=3, modes=["tool"])
    )
    outcome = start_run(cfg, tmp_path / "run", sandbox=sandbox)
    assert outcome.status == "complete" and outcome.done == n
    with RunStore(tmp_path / "run") as store:
        records = list(store.records())
    execs = [e.payload for e in read_trace(tmp_path / "run") if e.event == "sandbox_exec"]
    return records, execs


def _assert_survives_a_kill(stub, pack, sb, tmp_path, kill) -> None:
    """Run 3 tool-mode episodes whose first execution is slow, ``kill()`` the sandbox's server(s) while it
    runs, and check the crash is recorded once and a fresh server serves the rest. Closes ``sb``."""
    try:
        stub.inject({"code": SLOW})
        thread, killed = _kill_when_served(stub, kill)
        records, execs = _tool_run(stub, pack, sb, tmp_path)
        thread.join(5)
    finally:
        sb.close()
    assert killed
    crashed = [e for e in execs if e["sandbox_error"]]
    assert len(crashed) == 1 and crashed[0]["killed_reason"] == "server_crash" and crashed[0]["duration_s"] < 6
    assert len(records) == 3 and all(r.status.value == "ok" for r in records)  # the model submitted after the error
    later = execs[execs.index(crashed[0]) + 1 :]
    assert later and all(e["sandbox_error"] is None and e["stdout"].strip() for e in later)  # a fresh server


def test_sandbox_server_crash_mid_execution_is_survived(stub, unit_pack, tmp_path):
    # Code inside cannot kill its own server (the jail forbids it), so the host SIGKILLs the server process.
    try:
        sb = open_sandbox("local", pool_size=1)
    except SandboxUnavailableError:
        sb = open_sandbox("unsafe-subprocess", pool_size=1)

    def kill() -> list[str]:
        pids = [str(s._channel.proc.pid) for s in sb.pool.servers if s._channel is not None]
        for pid in pids:
            os.kill(int(pid), signal.SIGKILL)
        return pids

    _assert_survives_a_kill(stub, unit_pack, sb, tmp_path, kill)


@pytest.mark.docker
def test_killed_container_mid_execution_is_survived(stub, unit_pack, tmp_path):
    from .docker_util import docker_sandbox_or_skip

    sb = docker_sandbox_or_skip()

    def kill() -> list[str]:
        containers = sb.client.containers.list(filters={"label": f"stochbox.run={sb.run_id}"})
        for c in containers:
            c.kill()
        return [c.id for c in containers]

    _assert_survives_a_kill(stub, unit_pack, sb, tmp_path, kill)
