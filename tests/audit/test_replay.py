"""Replay of a recorded tool-mode run: executions and episodes come out the same."""

from __future__ import annotations

import json
import shutil

from stochbox.replay import replay_run
from stochbox.trace import TRACE_FILE

from .conftest import N_EPISODES


def test_replay_reports_every_execution_and_episode_identical(scripted_run, sandbox_backend):
    run_dir, models = scripted_run
    report = replay_run(run_dir, sandbox=sandbox_backend)
    assert len(report.executions) == 4 * N_EPISODES  # toolless never ran code
    assert all(e.identical for e in report.executions), [e.detail for e in report.executions if not e.identical]
    replayed = [e for e in report.episodes if e.replayed]
    assert len(replayed) == 5 * N_EPISODES
    assert all(e.identical for e in replayed), [e.detail for e in replayed if not e.identical]
    assert report.all_identical
    for name in ("honest", "honest_code"):
        honest = [e for e in replayed if f"{models[name]}/" in e.episode_id]
        assert len({json.dumps(e.replayed_samples) for e in honest}) == N_EPISODES  # real, distinct draws


def test_replay_detects_a_tampered_output(scripted_run, sandbox_backend, tmp_path):
    run_dir, models = scripted_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    lines = (copy / TRACE_FILE).read_text().splitlines(keepends=True)
    target = next(i for i, line in enumerate(lines) if '"sandbox_exec"' in line and models["honest"] in line)
    event = json.loads(lines[target])
    episode_id = event["episode_id"]
    event["stdout"] = "0.5\n"
    lines[target] = json.dumps(event) + "\n"
    (copy / TRACE_FILE).write_text("".join(lines))
    report = replay_run(copy, episode_ids=[episode_id], sandbox=sandbox_backend)
    (ex,) = report.executions
    assert not ex.identical and "stdout differs" in ex.detail
    # the episode replays from the recorded model replies and still reproduces the stored samples
    (ep,) = report.episodes
    assert ep.replayed and ep.identical
