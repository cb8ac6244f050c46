"""``--executor processes``: worker processes give the local executor's records, survive a worker's death
through ``--resume``, and do not outlive a runner killed with ``kill -9``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from run_probe import stored_count

from stochbox.run.config import RunConfig, validate_config
from stochbox.errors import ConfigError, StochboxError
from stochbox.run.executors.registry import make_executor
from stochbox.analysis.report import build_report
from stochbox.run.runinfo import read_run_info
from stochbox.run.runner import resume_run, start_run
from stochbox.run.store import RunStore

from .executor_runs import MODELS, assert_matches_local_run, run_config, stored_records
from stochbox.testing.openai_stub import StubServer
from .test_kill_resume import _episodes, _finish, _report, _stochbox

def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_processes_match_the_local_executor(stub_module, two_pack, sandbox, sandbox_backend, local_run, tmp_path):
    out = tmp_path / "run"
    outcome = start_run(run_config(stub_module, two_pack, executor="processes", workers=2, sandbox=sandbox_backend), out, sandbox=sandbox)
    assert_matches_local_run(out, local_run, outcome)


def test_a_dead_worker_stops_the_run_and_resume_completes_it(stub_module, two_pack, sandbox, sandbox_backend, local_run, tmp_path):
    out = tmp_path / "run"
    killed: list[int] = []

    def kill_a_worker(record, done, total) -> None:
        if done == 5 and not killed:
            workers = _children(os.getpid())
            workers = [p for p in workers if "worker_main" in Path(f"/proc/{p}/cmdline").read_text(errors="replace")]
            assert workers, "no worker process found"
            os.kill(workers[0], signal.SIGKILL)
            killed.append(workers[0])

    config = run_config(stub_module, two_pack, executor="processes", workers=2, sandbox=sandbox_backend)
    with pytest.raises(StochboxError, match="exited"):
        start_run(config, out, sandbox=sandbox, progress=kill_a_worker)
    assert killed
    with RunStore(out) as store:
        stored = store.count()
    assert 5 <= stored < 2 * 2 * 2 * 6
    resume_run(out, sandbox=sandbox)
    assert stored_records(out) == stored_records(local_run)
    assert build_report(out).to_json() == build_report(local_run).to_json()


def _run_args(stub: StubServer, pack: Path, out: Path) -> list[str]:
    models = [a for m in MODELS for a in ("--model", m)]
    return [
        "run", *models, "--base-url", stub.url, "--pack", str(pack), "--n", "30", "--reference-n", "300",
        "--seed", "21", "--concurrency", "4", "--sandbox", "unsafe-subprocess", "--out", str(out), "-q",
    ]  # native mode only: the workers open no sandbox, and the stub and the oracle run no code


def test_kill_9_of_the_runner_takes_its_workers_along(unit_pack, tmp_path, shared_cache):
    env = {**os.environ, "STOCHBOX_CACHE_DIR": str(shared_cache)}
    with StubServer(delay_s=0.15) as stub:
        out = tmp_path / "run"
        reference = tmp_path / "reference"
        _finish(_stochbox(*_run_args(stub, unit_pack, reference), env=env))
        proc = _stochbox(*_run_args(stub, unit_pack, out), "--executor", "processes", "--workers", "2", env=env)
        deadline = time.monotonic() + 120
        while stored_count(out) < 10 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before the kill point"
        workers = _children(proc.pid)
        assert len(workers) >= 2
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
        deadline = time.monotonic() + 30
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers), "worker processes outlived their runner"
        assert stored_count(out) < 2 * 30
        _finish(_stochbox("run", "--resume", str(out), "-q", env=env))
        assert _episodes(out) == _episodes(reference)
        assert _report(out, env) == _report(reference, env)


def test_workers_option_needs_the_processes_executor(unit_pack):
    with pytest.raises(ConfigError, match="--workers needs --executor processes"):
        make_executor("local", workers=2)
    with pytest.raises(ConfigError, match="at least 1"):
        make_executor("processes", workers=0)
    # checked with the options, before any ground truth runs or a run folder exists
    with pytest.raises(ConfigError, match="^--workers: .*needs --executor processes"):
        validate_config(RunConfig, {"models": ["baseline:oracle"], "packs": [str(unit_pack)], "workers": 2})
    with pytest.raises(ConfigError, match="^--ray-address: .*needs --executor ray"):
        validate_config(RunConfig, {"models": ["baseline:oracle"], "packs": [str(unit_pack)], "executor": "processes", "ray_address": "h:1"})


def test_resume_may_switch_executors(unit_pack, sandbox, tmp_path):
    out = tmp_path / "run"
    config = RunConfig.model_validate(dict(models=["baseline:oracle"], packs=[str(unit_pack)], n=4, reference_n=200, executor="processes", workers=1))
    start_run(config, out, sandbox=sandbox)
    outcome = resume_run(out, overrides={"executor": "local"}, sandbox=sandbox)  # --workers of the old executor is dropped
    assert outcome.status == "complete" and outcome.ran == 0
    assert read_run_info(out).config.workers is None
