"""The audit, trace, replay, view and export commands as a user runs them."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from rich.console import Console

from stochbox.traces.audit import audit_run
from stochbox.cli import main
from stochbox.traces.run_trace import load_run_trace
from stochbox.traces.transcript import episode_transcript

from .conftest import N_EPISODES


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out = capsys.readouterr()
    return exc.value.code or 0, out.out, out.err


def test_audit_json_and_fail_on_gate(scripted_run, capsys):
    run_dir, models = scripted_run
    code, out, _ = cli(capsys, "audit", str(run_dir), "--json")
    data = json.loads(out)
    assert code == 0 and data["episodes"] == 5 * N_EPISODES and data["schema_version"] == 1
    assert {c["flag"] for c in data["summary"]} >= {"no_tool_call", "invented_samples", "seed_fixed"}
    code, _, err = cli(capsys, "audit", str(run_dir), "--fail-on", "exec_timeout,seed_fixed")
    assert code == 1 and "seed_fixed" in err
    code, _, _ = cli(capsys, "audit", str(run_dir), "--fail-on", "exec_timeout,memory_kill")
    assert code == 0
    code, _, err = cli(capsys, "audit", str(run_dir), "--fail-on", "seed_fix")
    assert code == 2 and err.count("\n") == 1 and "unknown flag(s) seed_fix" in err and "seed_fixed" in err


def test_commands_on_a_folder_that_is_not_a_run(tmp_path, capsys):
    for argv in (["audit", str(tmp_path)], ["trace", str(tmp_path), "--episode", "x"], ["view", str(tmp_path), "--html", str(tmp_path / "v.html")]):
        code, _, err = cli(capsys, *argv)
        assert code == 4 and err.startswith("error:") and "trace.jsonl not found" in err


def test_trace_shows_the_whole_episode_and_its_verdict(scripted_run, capsys):
    run_dir, models = scripted_run
    episode = f"{models['seeded']}/tool/expo/2"
    code, out, _ = cli(capsys, "trace", str(run_dir), "--episode", episode)
    assert code == 0
    for text in ("model request", "Draw one sample from an exponential", "default_rng(42)", "sandbox", "samples submitted", "verdict", "seed_fixed"):
        assert text in out, text
    code, _, err = cli(capsys, "trace", str(run_dir), "--episode", "no/such/episode/0")
    assert code == 4 and "not in" in err


def test_transcript_blocks_follow_the_steps(scripted_run):
    run_dir, models = scripted_run
    run = load_run_trace(run_dir)
    ep = run.episode(f"{models['honest']}/tool/expo/0")
    console = Console(record=True, width=120)
    for block in episode_transcript(ep, audit_run(run_dir).for_episode(ep.episode_id)):
        console.print(block)
    text = console.export_text()
    steps = [int(s) for s in __import__("re").findall(r"step (\d+) ·", text)]
    assert steps == sorted(steps) and len(steps) >= 8
    stdout = ep.of("sandbox_exec")[0].payload["stdout"].strip()
    assert stdout in text and "flags    none" in text.replace("  ", "  ")


def test_export_tables_load_with_pandas(scripted_run, tmp_path, capsys):
    run_dir, models = scripted_run
    run = load_run_trace(run_dir)
    for fmt in ("parquet", "csv"):
        out = tmp_path / fmt
        code, printed, _ = cli(capsys, "export", str(run_dir), "--format", fmt, "--out", str(out))
        assert code == 0 and printed.split() == [str(out / f"episodes.{fmt}"), str(out / f"events.{fmt}")]
        read = pd.read_parquet if fmt == "parquet" else pd.read_csv
        episodes, events = read(out / f"episodes.{fmt}"), read(out / f"events.{fmt}")
        assert len(episodes) == 5 * N_EPISODES and len(events) == run.n_events()
        assert set(episodes.columns) >= {"episode_id", "scenario", "model", "mode", "status", "samples", "audit_flags", "seed"}
        assert list(events.columns[:6]) == ["run_id", "episode_id", "step", "event", "ts", "schema_version"]
        seeded = episodes[episodes.model == models["seeded"]]
        assert all("seed_fixed" in f for f in seeded["audit_flags"])
        assert set(episodes[episodes.model == models["honest"]]["audit_flags"].fillna("")) == {""}
    # Parquet keeps 63-bit seeds exact
    events = pd.read_parquet(tmp_path / "parquet" / "events.parquet")
    execs = events[events.event == "sandbox_exec"]
    assert all(int(row.seed) == json.loads(row.payload)["seed"] for row in execs.itertuples())
    code, _, err = cli(capsys, "export", str(run_dir), "--format", "xlsx")
    assert code == 2 and "parquet or csv" in err


def test_view_writes_one_html_file(scripted_run, tmp_path, capsys):
    run_dir, _ = scripted_run
    code, _, err = cli(capsys, "view", str(run_dir), "--html", str(tmp_path / "v.html"))
    assert code == 0 and "25 episodes" in err
    html = (tmp_path / "v.html").read_text()
    assert html.count('type="application/json"') == 3 and "http" not in html.split("<script>")[-1].lower()


def test_export_without_the_extra_names_it(scripted_run, monkeypatch, capsys):
    import sys

    run_dir, _ = scripted_run
    monkeypatch.setitem(sys.modules, "pandas", None)  # what an installation without the 'export' extra sees
    code, _, err = cli(capsys, "export", str(run_dir))
    assert code == 2 and "stochbox[export]" in err


def test_replay_command_json_for_chosen_episodes(scripted_run, sandbox_backend, capsys):
    run_dir, models = scripted_run
    chosen = [f"{models['seeded']}/tool/expo/1", f"{models['toolless']}/tool/expo/0"]
    argv = ["replay", str(run_dir), "--json", "--sandbox", sandbox_backend]
    code, out, _ = cli(capsys, *argv, *(a for e in chosen for a in ("--episode", e)))
    data = json.loads(out)
    assert code == 0 and data["summary"]["all_identical"] is True
    assert {e["episode_id"] for e in data["episodes"]} == set(chosen)
    assert [e["episode_id"] for e in data["executions"]] == [chosen[0]]  # toolless ran no code
    code, _, err = cli(capsys, "replay", str(run_dir), "--episode", "nope")
    assert code == 4 and "episode 'nope'" in err
