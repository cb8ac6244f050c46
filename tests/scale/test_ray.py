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
from pathlib import Path

import pytest

from stochbox.analysis.report import build_report
from stochbox.run.runner import start_run

from .executor_runs import MODELS, assert_matches_local_run, run_config, stored_records

ray = pytest.importorskip("ray")


def test_ray_executor_matches_the_local_executor(stub_module, two_pack, sandbox, sandbox_backend, local_run, tmp_path):
    assert not ray.is_initialized()
    out = tmp_path / "run"
    outcome = start_run(run_config(stub_module, two_pack, executor="ray", sandbox=sandbox_backend), out, sandbox=sandbox)
    assert not ray.is_initialized()  # the executor shut down the cluster it started
    assert_matches_local_run(out, local_run, outcome)


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
    assert stored_records(out) == stored_records(local_run)
    report = subprocess.run([sys.executable, "-m", "stochbox", "report", str(out), "--json"], capture_output=True, text=True, timeout=120)
    assert report.stdout == build_report(local_run).to_json()
