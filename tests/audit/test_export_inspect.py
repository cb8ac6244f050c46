"""``stochbox export RUN --format inspect``: the run as an Inspect eval log, read back with Inspect's own reader."""

from __future__ import annotations

import importlib.util
import json

import pytest

from stochbox.cli import main
from stochbox.traces.run_trace import load_run_trace

from machine_features import require_or_skip


@pytest.fixture(autouse=True)
def require_inspect():
    require_or_skip("STOCHBOX_REQUIRE_INSPECT", importlib.util.find_spec("inspect_ai") is not None, "inspect-ai is not installed")


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out = capsys.readouterr()
    return exc.value.code or 0, out.out, out.err


def test_exported_log_has_one_sample_per_episode_with_events_and_verdicts(scripted_run, tmp_path, capsys):
    from inspect_ai.log import read_eval_log

    run_dir, models = scripted_run
    out = tmp_path / "run.eval"
    code, printed, err = cli(capsys, "export", str(run_dir), "--format", "inspect", "--out", str(out))
    assert code == 0, err
    assert printed.strip() == str(out)
    log = read_eval_log(str(out))
    trace = load_run_trace(run_dir)
    assert log.status == "success"
    assert len(log.samples) == len(trace.episodes)
    assert {s.id for s in log.samples} == set(trace.episodes)
    assert log.results.completed_samples == log.results.total_samples == len(trace.episodes)

    honest = next(s for s in log.samples if s.metadata["model"] == models["honest"])
    ep = trace.episodes[honest.id]
    kinds = [e.event for e in honest.events]
    assert kinds.count("model") == len(ep.of("model_response"))
    assert kinds.count("tool") == len(ep.of("tool_result"))
    assert kinds.count("sandbox") == len(ep.of("sandbox_exec"))
    sandbox_event = next(e for e in honest.events if e.event == "sandbox")
    exec_event = ep.of("sandbox_exec")[0].payload
    assert sandbox_event.input == exec_event["code"] and sandbox_event.result == exec_event["exit_code"]
    assert sandbox_event.options["seed"] == exec_event["seed"]
    # the submitted value is what the sandbox printed, and it is in the conversation the log shows
    assert honest.metadata["samples"] == ep.record.samples
    assert any(m.role == "tool" for m in honest.messages)
    assert honest.messages[0].role == "system"

    # the score is the scenario verdict of the episode's arm, the same for every episode of that arm
    (arm_name,) = honest.scores
    verdict = honest.scores[arm_name]
    assert verdict.value in ("C", "I") and verdict.metadata["scenario"] == ep.scenario
    same_arm = [s for s in log.samples if s.metadata["model"] == models["honest"]]
    assert {s.scores[arm_name].value for s in same_arm} == {verdict.value}
    by_name = {s.name: s for s in log.results.scores}
    assert set(by_name) == {s for sample in log.samples for s in sample.scores}
    metric = by_name[arm_name].metrics
    assert metric["ks_at_n"].value == (1.0 if verdict.value == "C" else 0.0)
    assert json.loads(honest.scores[arm_name].answer) == ep.record.samples


def test_incident_episode_keeps_limits_errors_and_parse_failures_as_info_events(incident_run, tmp_path, capsys):
    from inspect_ai.log import read_eval_log

    run_dir, _ = incident_run
    out = tmp_path / "incident.eval"
    assert cli(capsys, "export", str(run_dir), "--format", "inspect", "--out", str(out))[0] == 0
    (sample,) = read_eval_log(str(out)).samples
    sources = {e.source for e in sample.events if e.event == "info"}
    assert {"stochbox/limit_hit", "stochbox/parse"} <= sources
    killed = [e for e in sample.events if e.event == "sandbox" and e.options.get("killed_reason")]
    assert {e.options["killed_reason"] for e in killed} >= {"timeout"}


def test_export_inspect_refuses_other_file_kinds(scripted_run, tmp_path, capsys):
    run_dir, _ = scripted_run
    code, _, err = cli(capsys, "export", str(run_dir), "--format", "inspect", "--out", str(tmp_path / "log.txt"))
    assert code == 2 and ".eval" in err


def test_export_inspect_without_the_extra_names_it(scripted_run, tmp_path, monkeypatch, capsys):
    import sys

    run_dir, _ = scripted_run
    monkeypatch.setitem(sys.modules, "inspect_ai", None)  # what an installation without the 'inspect' extra sees
    code, _, err = cli(capsys, "export", str(run_dir), "--format", "inspect", "--out", str(tmp_path / "x.eval"))
    assert code == 2 and "stochbox[inspect]" in err
