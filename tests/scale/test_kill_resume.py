"""Crash safety for real: ``kill -9`` a ``stochbox run`` at seeded random moments, resume, compare.

The run is a real subprocess talking to the stub server (which answers after
a short pause, so the run lasts a few seconds). After each SIGKILL,
``stochbox run --resume`` must finish with every planned episode stored
exactly once, the same records as an uninterrupted run with the same seed,
and a byte-identical ``report --json``.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from run_probe import stored_count

from stochbox.run.store import RunStore

from stochbox.testing.openai_stub import StubServer

N = 60
MODELS = ["openai:stub", "baseline:oracle"]
TOTAL = N * len(MODELS)  # one scenario, native mode


def _stochbox(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "stochbox", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


#: Only this file's own ground truth runs in the sandbox (the stub and the oracle answer without code), and
#: durability does not depend on the backend; the subprocess start-up of a container pool would dominate.
BACKEND = "unsafe-subprocess"


def _run_args(stub: StubServer, pack: Path, out: Path, backend: str = BACKEND) -> list[str]:
    models = [a for m in MODELS for a in ("--model", m)]
    return [
        "run", *models, "--base-url", stub.url, "--pack", str(pack), "--n", str(N), "--reference-n", "300",
        "--seed", "21", "--concurrency", "2", "--sandbox", backend, "--out", str(out), "-q",
    ]


def _finish(proc: subprocess.Popen[str], timeout: float = 180) -> str:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return out


def _report(run_dir: Path, env: dict[str, str]) -> str:
    return _finish(_stochbox("report", str(run_dir), "--json", env=env))


def _episodes(run_dir: Path) -> list[tuple]:
    db = sqlite3.connect(run_dir / "run.sqlite")
    try:
        (distinct,) = db.execute("SELECT COUNT(DISTINCT episode_id) FROM episodes").fetchone()
        rows = db.execute("SELECT episode_id FROM episodes").fetchall()
    finally:
        db.close()
    assert distinct == len(rows)
    with RunStore(run_dir) as store:
        return [(r.episode_id, r.status.value, json.dumps(r.samples), r.seed) for r in store.records()]


@pytest.fixture(scope="module")
def slow_stub():
    with StubServer(delay_s=0.15) as server:  # ~13 model episodes/s at concurrency 2: a run of a few seconds
        yield server


@pytest.fixture(scope="module")
def reference_run(slow_stub, unit_pack, tmp_path_factory, shared_cache):
    env = {**os.environ, "STOCHBOX_CACHE_DIR": str(shared_cache)}
    out = tmp_path_factory.mktemp("uninterrupted") / "run"
    _finish(_stochbox(*_run_args(slow_stub, unit_pack, out), env=env))
    return out, _episodes(out), _report(out, env)


@pytest.mark.parametrize("kill_seed", [1, 2, 3])
def test_kill_9_then_resume_loses_and_duplicates_nothing(kill_seed, slow_stub, unit_pack, tmp_path, shared_cache, reference_run):
    _, ref_episodes, ref_report = reference_run
    assert len(ref_episodes) == TOTAL
    env = {**os.environ, "STOCHBOX_CACHE_DIR": str(shared_cache)}
    rng = random.Random(kill_seed)
    kill_after = rng.randrange(0, N)  # episodes stored before the kill (0: during start-up)
    extra_s = rng.uniform(0, 0.5)  # and a random moment after that
    out = tmp_path / "run"
    proc = _stochbox(*_run_args(slow_stub, unit_pack, out), env=env)
    deadline = time.monotonic() + 120
    while stored_count(out) < kill_after and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(extra_s)
    assert proc.poll() is None, "the run ended before the kill point"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate()
    before = stored_count(out)
    assert before < TOTAL
    print(f"kill point {kill_seed}: after {kill_after} stored + {extra_s:.3f}s -> {before} stored at the kill")

    if (out / "run.json").exists():
        _finish(_stochbox("run", "--resume", str(out), "-q", env=env))
    else:  # killed before the run folder was written: nothing to resume, start again
        _finish(_stochbox(*_run_args(slow_stub, unit_pack, out), env=env))

    episodes = _episodes(out)
    assert len(episodes) == TOTAL  # 0 lost, 0 duplicated (episode_id is unique)
    assert episodes == ref_episodes  # same ids, statuses, samples and seeds as the uninterrupted run
    assert _report(out, env) == ref_report
