"""The ``run``, ``truth`` and ``report`` commands: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace

import pytest

from stochbox.testing.cli import run_cli as _cli

from stochbox.testing.scenario_texts import BOOM, TINY, write_pack


def _one_error_line(err: str) -> str:
    lines = [l for l in err.splitlines() if l.strip() and not l.startswith("warning:")]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def test_run_then_report_json_has_the_stable_fields(capsys, tiny_pack, sandbox_backend, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = _cli(
        capsys, "run", "--model", "baseline:oracle", "--pack", str(tiny_pack), "--scenario", "coin", "--scenario", "expo",
        "--n", "20", "--reference-n", "500", "--seed", "3", "--out", str(out_dir), "--sandbox", sandbox_backend, "-q",
    )
    assert code == 0, err
    assert "KS@N" in out and "baseline:oracle" in out
    code, out, _ = _cli(capsys, "report", str(out_dir), "--json")
    assert code == 0
    report = json.loads(out)
    summary_fields = {"model", "mode", "n", "alpha", "preset", "ks_at_n", "ci_low", "ci_high", "scenarios", "parse_rate"}
    result_fields = {"scenario", "model", "mode", "n", "n_valid", "test", "statistic", "pvalue", "passed"}
    assert summary_fields <= set(report["summary"][0])
    assert all(result_fields <= set(r) for r in report["results"])
    # the too-regular diagnostic and the family-clustered interval are part of the stable JSON
    assert {"too_regular", "clusters", "cluster_ci_low", "cluster_ci_high"} <= set(report["summary"][0])
    assert all(set(r["regularity"]) >= {"too_regular", "pvalue", "level", "checks"} for r in report["results"])
    assert [r["scenario"] for r in report["results"]] == ["coin", "expo"]
    assert report["summary"][0]["n"] == 20 and report["summary"][0]["preset"] == "stochbox"
    # the report is deterministic and can switch preset after the fact
    assert _cli(capsys, "report", str(out_dir), "--json")[1] == out
    code, out_ub, _ = _cli(capsys, "report", str(out_dir), "--json", "--preset", "unpredictabench")
    assert json.loads(out_ub)["alpha"] == 1e-4
    code, _, err = _cli(capsys, "report", str(out_dir), "--html", str(tmp_path / "r.html"))
    assert code == 0 and "<html" in (tmp_path / "r.html").read_text().lower()


@pytest.mark.parametrize(
    "argv, needle",
    [
        (["--model", "nonsense"], "nonsense"),
        (["--model", "baseline:nope"], "baseline:nope"),
        (["--model", "baseline:oracle", "--scenario", "no-such-scenario"], "no-such-scenario"),
        (["--model", "baseline:oracle", "--pack", "no-such-pack"], "no-such-pack"),
        (["--model", "baseline:oracle", "--mode", "sideways"], "--mode"),
        (["--model", "baseline:oracle", "--n", "0"], "--n"),
        (["--model", "baseline:oracle", "--protocol", "psychic"], "--protocol"),
        (["--model", "baseline:oracle", "--sandbox", "chroot"], "--sandbox"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_creates_nothing(capsys, tiny_pack, tmp_path, argv, needle):
    out_dir = tmp_path / "run"
    code, _, err = _cli(capsys, "run", "--pack", str(tiny_pack), "--out", str(out_dir), "--sandbox", "unsafe-subprocess", *argv)
    assert code == 2
    assert needle in _one_error_line(err)
    assert not out_dir.exists()


def test_existing_out_dir_is_exit_2_and_untouched(capsys, tiny_pack, tmp_path):
    out_dir = tmp_path / "run"
    out_dir.mkdir()
    (out_dir / "notes.txt").write_text("mine")
    code, _, err = _cli(capsys, "run", "--model", "baseline:oracle", "--pack", str(tiny_pack), "--out", str(out_dir), "--sandbox", "unsafe-subprocess")
    assert code == 2
    line = _one_error_line(err)
    assert str(out_dir) in line and "--resume" in line
    assert [p.name for p in out_dir.iterdir()] == ["notes.txt"]


def test_resume_with_result_options_is_refused(capsys, tmp_path):
    code, _, err = _cli(capsys, "run", "--resume", str(tmp_path), "--n", "5")
    assert code == 2 and "--resume" in _one_error_line(err)


def test_broken_scenario_file_names_file_and_field(capsys, tmp_path):
    pack = write_pack(
        tmp_path / "broken",
        {
            "bad.yaml": """
                id: bad
                title: Broken on purpose
                prompt: Pick a number.
                kind: canonical
                support: continuous
                answer_format: {type: integr}
                ground_truth: {code: "print(1)"}
            """
        },
    )
    code, _, err = _cli(capsys, "run", "--model", "baseline:oracle", "--pack", str(pack), "--out", str(tmp_path / "run"), "--sandbox", "unsafe-subprocess")
    assert code == 2
    line = _one_error_line(err)
    assert "bad.yaml" in line and "answer_format.type" in line


def test_truth_caches_then_reports_cached(capsys, tiny_pack, sandbox_backend, tmp_path):
    args = ("truth", "--pack", str(tiny_pack), "--scenario", "coin", "--n", "200", "--seed", "4", "--cache-dir", str(tmp_path / "c"), "--sandbox", sandbox_backend)
    code, out, err = _cli(capsys, *args)
    assert code == 0, err
    assert "coin" in out and "generated" in out
    files = list((tmp_path / "c").rglob("*.json"))
    assert len(files) == 1
    first = files[0].read_bytes()
    code, out, _ = _cli(capsys, *args)
    assert code == 0 and "cached" in out and files[0].read_bytes() == first


def test_truth_failure_names_the_scenario_and_others_still_complete(capsys, tiny_pack, sandbox_backend, tmp_path):
    write_pack(tiny_pack, {**TINY, "boom.yaml": BOOM})
    code, out, err = _cli(capsys, "truth", "--pack", str(tiny_pack), "--scenario", "boom", "--scenario", "coin", "--n", "50", "--cache-dir", str(tmp_path / "c"), "--sandbox", sandbox_backend)
    assert code != 0
    assert "coin" in out and "generated" in out and "failed" in out
    line = _one_error_line(err)
    assert "boom" in line and "nope" in line


def test_bad_model_through_the_real_entry_point(tmp_path):
    env = {**os.environ, "STOCHBOX_CACHE_DIR": str(tmp_path / "c")}
    proc = subprocess.run(
        [sys.executable, "-m", "stochbox", "run", "--model", "gpt5-please", "--pack", "canonical", "--out", str(tmp_path / "r")],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ") and "gpt5-please" in proc.stderr


def test_failing_ground_truth_stops_a_run_before_its_folder_exists(capsys, tiny_pack, sandbox_backend, tmp_path):
    write_pack(tiny_pack, {**TINY, "boom.yaml": BOOM})
    out_dir = tmp_path / "run"
    code, _, err = _cli(capsys, "run", "--model", "baseline:collapse", "--pack", str(tiny_pack), "--scenario", "boom", "--n", "5", "--out", str(out_dir), "--sandbox", sandbox_backend)
    assert code == 5
    line = _one_error_line(err)
    assert "boom" in line and "nope" in line
    assert not out_dir.exists()


def test_report_of_a_folder_that_is_not_a_run(capsys, tmp_path):
    code, _, err = _cli(capsys, "report", str(tmp_path))
    assert code == 4 and "run.json" in _one_error_line(err)


def test_resume_from_the_command_line_accepts_runtime_options(capsys, tiny_pack, sandbox_backend, tmp_path):
    out_dir = tmp_path / "run"
    common = ("--sandbox", sandbox_backend, "--concurrency", "2", "-q")
    code, _, err = _cli(capsys, "run", "--model", "baseline:collapse", "--pack", str(tiny_pack), "--scenario", "coin", "--n", "3", "--reference-n", "100", "--out", str(out_dir), *common)
    assert code == 0, err
    code, out, err = _cli(capsys, "run", "--resume", str(out_dir), *common)
    assert code == 0, err
    assert "0 episode(s) run, 3/3 stored" in " ".join(err.split()) and "KS@N" in out


def test_the_same_scenario_id_in_two_packs_is_refused(capsys, tiny_pack, tmp_path):
    twin = write_pack(tmp_path / "twin", TINY, name="twin")
    code, _, err = _cli(capsys, "run", "--model", "baseline:oracle", "--pack", str(tiny_pack), "--pack", str(twin), "--out", str(tmp_path / "run"), "--sandbox", "unsafe-subprocess")
    assert code == 2
    line = _one_error_line(err)
    assert "coin" in line and "twin" in line
    assert not (tmp_path / "run").exists()


_COIN_SCRIPT = """
native:
  - text: "ANSWER: heads"
tool:
  - tool_calls:
      - name: python
        args: {code: "import random\\nprint(random.choice(['heads', 'tails']))"}
  - tool_calls:
      - name: submit
        args: {answer: "{{last_output_line}}"}
"""


def test_report_shows_tool_use_and_the_ksn_curve(capsys, tiny_pack, sandbox_backend, tmp_path):
    """A scripted model: natively one call and a constant; in tool mode two calls around one program run."""
    from stochbox.evaluators.intervals import wilson_interval
    from stochbox.run.store import RunStore

    script = tmp_path / "coin.yaml"
    script.write_text(_COIN_SCRIPT)
    out_dir = tmp_path / "run"
    code, _, err = _cli(
        capsys, "run", "--model", f"scripted:{script}", "--pack", str(tiny_pack), "--scenario", "coin",
        "--mode", "both", "--n", "30", "--reference-n", "500", "--seed", "5", "--out", str(out_dir),
        "--sandbox", sandbox_backend, "-q",
    )
    assert code == 0, err
    code, out, _ = _cli(capsys, "report", str(out_dir), "--json")
    assert code == 0
    report = json.loads(out)
    with RunStore(out_dir) as store:
        records = list(store.records())
    by_mode = {s["mode"]: s for s in report["summary"]}
    for mode, s in by_mode.items():
        recs = [r for r in records if r.mode.value == mode]
        assert len(recs) == 30
        assert s["mean_model_calls"] == pytest.approx(sum(r.n_model_calls for r in recs) / 30)
        assert s["mean_tool_calls"] == pytest.approx(sum(r.n_tool_calls for r in recs) / 30)
    assert by_mode["native"]["mean_model_calls"] == 1 and by_mode["native"]["mean_tool_calls"] == 0
    assert by_mode["tool"]["mean_model_calls"] == 2 and by_mode["tool"]["mean_tool_calls"] >= 1
    # curve: N in (10, 30) for a run at N=30, both arms; a constant "heads" fails the coin at both N
    curves = report["curves"]
    assert [(c["mode"], c["n"]) for c in curves] == [("native", 10), ("native", 30), ("tool", 10), ("tool", 30)]
    low, high = wilson_interval(0, 1)
    for c in curves:
        if c["mode"] == "native":
            assert (c["ks_at_n"], c["ci_low"], c["ci_high"]) == (0.0, 0.0, pytest.approx(high))
    at_30 = {c["mode"]: c for c in curves if c["n"] == 30}
    for mode, s in by_mode.items():
        assert {k: at_30[mode][k] for k in ("ks_at_n", "ci_low", "ci_high")} == {k: s[k] for k in ("ks_at_n", "ci_low", "ci_high")}
    assert _cli(capsys, "report", str(out_dir), "--json")[1] == out  # deterministic
    code, text, _ = _cli(capsys, "report", str(out_dir))
    assert "KS@N curve" in text and "model calls" in text and "2.00" in text


def test_temperature_and_max_tokens_reach_run_json_and_the_model(capsys, tiny_pack, sandbox_backend, tmp_path):
    """--temperature/--max-tokens are saved in run.json, and the config built from it hands them to the models."""
    import asyncio
    from types import SimpleNamespace

    from stochbox.agents.llm import make_llm_agent
    from stochbox.results import Mode
    from stochbox.run.runinfo import read_run_info

    script = tmp_path / "coin.yaml"
    script.write_text(_COIN_SCRIPT)
    out_dir = tmp_path / "run"
    code, _, err = _cli(
        capsys, "run", "--model", f"scripted:{script}", "--pack", str(tiny_pack), "--scenario", "coin", "--n", "2",
        "--reference-n", "100", "--temperature", "0.3", "--max-tokens", "77", "--out", str(out_dir),
        "--sandbox", sandbox_backend, "-q",
    )
    assert code == 0, err
    raw = json.loads((out_dir / "run.json").read_text())
    assert (raw["config"]["temperature"], raw["config"]["max_tokens"]) == (0.3, 77)
    options = read_run_info(out_dir).config.agent_options()
    assert (options.temperature, options.max_tokens) == (0.3, 77)
    ctx = SimpleNamespace(seed=1, mode=Mode.native)  # what model_for reads of an EpisodeContext
    pytest.importorskip("langchain_openai")
    chat = make_llm_agent("openai:gpt-4o-mini", replace(options, base_url="http://127.0.0.1:9/v1"))
    model = chat.backend.model_for(ctx).bound  # the ChatOpenAI behind the per-episode seed binding
    assert (model.temperature, model.max_tokens) == (0.3, 77)
    asyncio.run(chat.aclose())
    pytest.importorskip("llama_cpp")
    local = make_llm_agent("local:smollm2", options)
    try:
        llama = local.backend.model_for(ctx).bound
        assert (llama.temperature, llama.max_tokens) == (0.3, 77)
        assert local.describe()["max_tokens"] == 77
    finally:
        asyncio.run(local.aclose())
    # out of range: a one-line error naming the option
    code, _, err = _cli(capsys, "run", "--model", "baseline:oracle", "--temperature", "3", "--out", str(tmp_path / "x"))
    assert code == 2 and "--temperature" in _one_error_line(err)


def test_cli_import_loads_no_heavy_libraries():
    """``stochbox --help`` builds the command tree without scipy, matplotlib or langgraph."""
    code = "import sys, stochbox.cli; print(sorted(m for m in ('scipy', 'matplotlib', 'langgraph') if m in sys.modules))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert proc.stdout.strip() == "[]"


def test_cli_option_defaults_match_their_sources():
    from stochbox.cli import defaults
    from stochbox.evaluators import presets
    from stochbox.analysis import calibration, compare, fidelity

    assert defaults.PRESET_NAMES == presets.PRESET_NAMES
    assert defaults.DEFAULT_BOOTSTRAP == compare.DEFAULT_BOOTSTRAP
    assert (defaults.DEFAULT_M, defaults.DEFAULT_MAX_PROGRAMS) == (fidelity.DEFAULT_M, fidelity.DEFAULT_MAX_PROGRAMS)
    assert defaults.DEFAULT_TRIALS == calibration.DEFAULT_TRIALS
