"""``--executor ray`` on a real local Ray cluster: the same records and report as the local executor.

The in-process test lets the executor start (and stop) its own local
cluster; the CLI test starts a head node with ``ray start --head --block``
and passes ``--ray-address``, then stops that process by its pid.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from stochbox.config import RunConfig
from stochbox.report import build_report
from stochbox.runner import start_run
from stochbox.store import RunStore
from stochbox.trace import read_trace

ray = pytest.importorskip("ray")

MODELS = ["openai:stub", "baseline:oracle"]


def _config(stub, pack, **kw) -> RunConfig:
    base = dict(models=MODELS, base_url=stub.url, packs=[str(pack)], n=6, reference_n=200, modes=["native", "tool"], concurrency=4, seed=9)
    return RunConfig.model_validate({**base, **kw})


def _records(run_dir: Path) -> list[tuple]:
    with RunStore(run_dir) as store:
        return [(r.episode_id, r.status.value, r.samples, r.reason, r.n_model_calls, r.n_tool_calls, r.tool_code) for r in store.records()]


@pytest.fixture(scope="module")
def local_run(stub_module, two_pack, sandbox, tmp_path_factory):
    out = tmp_path_factory.mktemp("local") / "run"
    start_run(_config(stub_module, two_pack), out, sandbox=sandbox)
    return out


@pytest.fixture(scope="module")
def stub_module():
    from .openai_stub import StubServer

    with StubServer() as server:
        yield server


def test_ray_executor_matches_the_local_executor(stub_module, two_pack, sandbox, sandbox_backend, local_run, tmp_path):
    assert not ray.is_initialized()
    out = tmp_path / "run"
    outcome = start_run(_config(stub_module, two_pack, executor="ray", sandbox=sandbox_backend), out, sandbox=sandbox)
    assert outcome.status == "complete" and outcome.done == outcome.total == 2 * 2 * 2 * 6
    assert not ray.is_initialized()  # the executor shut down the cluster it started

    assert _records(out) == _records(local_run)
    assert build_report(out).to_json() == build_report(local_run).to_json()

    # every episode's events reached the driver's trace, steps numbered 0, 1, 2, ... in order
    steps = defaultdict(list)
    executed = 0
    for event in read_trace(out):
        if event.episode_id is not None:
            steps[event.episode_id].append(event.step)
        executed += event.event == "sandbox_exec"
    assert len(steps) == outcome.total
    assert all(s == list(range(len(s))) for s in steps.values())
    assert executed > 0  # tool-mode code ran in the node's sandbox pool


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_head(tmp_path):
    """A one-node cluster from ``ray start --head --block``, stopped by its pid afterwards."""
    port = _free_port()
    ray_bin = Path(sys.executable).parent / "ray"
    head = subprocess.Popen(
        [str(ray_bin), "start", "--head", "--block", f"--port={port}", "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    address = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        assert head.poll() is None, "ray start --head exited"
        time.sleep(0.5)
    time.sleep(2)  # the GCS port opens before the raylet registers
    yield address
    os.killpg(head.pid, signal.SIGTERM)  # its own session: the head's processes and nothing else
    try:
        head.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(head.pid, signal.SIGKILL)
        head.wait()


def test_cli_ray_address_matches_the_local_executor(stub_module, two_pack, sandbox_backend, local_run, ray_head, tmp_path, shared_cache):
    out = tmp_path / "run"
    models = [a for m in MODELS for a in ("--model", m)]
    args = [
        sys.executable, "-m", "stochbox", "run", *models, "--base-url", stub_module.url, "--pack", str(two_pack), "--n", "6",
        "--reference-n", "200", "--mode", "both", "--concurrency", "4", "--seed", "9", "--sandbox", sandbox_backend,
        "--executor", "ray", "--ray-address", ray_head, "--out", str(out), "-q",
    ]
    done = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "STOCHBOX_CACHE_DIR": str(shared_cache)}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _records(out) == _records(local_run)
    report = subprocess.run([sys.executable, "-m", "stochbox", "report", str(out), "--json"], capture_output=True, text=True, timeout=120)
    assert report.stdout == build_report(local_run).to_json()
