"""Replay of a recorded tool-mode run: executions and episodes come out the same."""

from __future__ import annotations

import json
import shutil

from stochbox.traces.replay import replay_run
from stochbox.run.trace import TRACE_FILE

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


def test_tool_executions_record_their_limits(scripted_run):
    from stochbox.agents.base import AgentLimits
    from stochbox.traces.run_trace import load_run_trace

    run = load_run_trace(scripted_run[0])
    execs = [ev.payload for ep in run.episodes.values() for ev in ep.of("sandbox_exec")]
    assert execs and all(
        (p["timeout_s"], p["output_cap"]) == (10.0, AgentLimits().tool_output_cap) for p in execs
    )


def test_oracle_trace_holds_what_it_ran_and_replays_old_traces_too(sandbox_backend, tmp_path):
    """New oracle events carry code, globals, timeout and cap; events without them are rebuilt."""
    from stochbox.run.config import RunConfig
    from stochbox.run.runner import start_run
    from stochbox.sandbox.base import TRUTH_OUTPUT_CAP
    from stochbox.scenarios import find_scenario
    from stochbox.reference.truth import program_for

    config = RunConfig(
        models=["baseline:oracle"], packs=["canonical"], scenarios=["die-roll", "bernoulli-explicit"], n=5,
        reference_n=100, seed=2, sandbox=sandbox_backend, cache_dir=str(tmp_path / "cache"),
    )
    run_dir = tmp_path / "run"
    assert start_run(config, run_dir).status == "complete"
    lines = (run_dir / TRACE_FILE).read_text().splitlines(keepends=True)
    execs = [(i, json.loads(line)) for i, line in enumerate(lines) if '"sandbox_exec"' in line]
    assert len(execs) == 2  # one draw per (scenario, mode)
    for _, ev in execs:
        sc = find_scenario(ev["episode_id"].split("/")[2])
        code, globals_ = program_for(sc, 5)
        assert (ev["code"], ev["globals"], ev["program"]) == (code, globals_, sc.ground_truth.code)
        assert (ev["timeout_s"], ev["output_cap"]) == (sc.ground_truth.timeout_s, TRUTH_OUTPUT_CAP)
    assert {ev["code"] == ev["program"] for _, ev in execs} == {True, False}  # one batch program, one harness
    report = replay_run(run_dir, sandbox=sandbox_backend)
    assert len(report.executions) == 2 and report.all_identical
    # an old trace: the program in `code`, no globals, timeout or cap
    for i, ev in execs:
        ev["code"] = ev.pop("program")
        for key in ("globals", "timeout_s", "output_cap"):
            del ev[key]
        lines[i] = json.dumps(ev) + "\n"
    (run_dir / TRACE_FILE).write_text("".join(lines))
    report = replay_run(run_dir, sandbox=sandbox_backend)
    assert len(report.executions) == 2 and report.all_identical, [e.detail for e in report.executions]
