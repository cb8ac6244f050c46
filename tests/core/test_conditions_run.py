"""Named conditions in one run (``--condition``): paired by episode seed, told apart in records, trace,
report and ``compare``; a run without conditions keeps its old episode ids.

The model is a scripted one whose behaviour depends on the prompt: when the system prompt says
"do not set seeds" it samples honestly in the sandbox; when a condition's templates drop that
sentence it fixes a seed (the same answer every episode). The condition effect is then large
and known: ``compare`` must report it paired, with McNemar's exact test on the discordant
scenarios and the paired bootstrap."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from scipy import stats

from stochbox.testing.cli import run_cli as _cli
from stochbox.conditions.templates import default_templates
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace

from stochbox.testing.scenario_texts import write_pack

UNIFORMS = 8  # scenarios, all uniform on [0, 1): honest code passes ~95% of them, seeded code none


def _uniform(i: int) -> str:
    return f"""
        id: u{i}
        title: Uniform {i}
        prompt: Draw one number uniformly at random from [0, 1) (variant {i}).
        kind: canonical
        support: continuous
        answer_format: {{type: number}}
        ground_truth:
          batch: true
          code: |
            import json, numpy as np
            print(json.dumps(np.random.uniform(size=N).tolist()))
        """


SCRIPT = """
tool_calling: true
tool:                       # no seed advice in the prompt: this model fixes a seed
  - tool_calls: [{name: python, args: {code: "import random\\nrandom.seed(1234)\\nprint(random.random())"}}]
  - tool_calls: [{name: submit, args: {answer: "{{last_output_line}}"}}]
when_prompt:
  - contains: "do not set seeds yourself"
    tool:
      - tool_calls: [{name: python, args: {code: "import random\\nprint(random.random())"}}]
      - tool_calls: [{name: submit, args: {answer: "{{last_output_line}}"}}]
"""


@pytest.fixture
def setup(tmp_path, monkeypatch, shared_cache):
    monkeypatch.setenv("STOCHBOX_CACHE_DIR", str(shared_cache))
    pack = write_pack(tmp_path / "pack", {f"u{i}.yaml": _uniform(i) for i in range(UNIFORMS)}, name="uniforms")
    script = tmp_path / "model.yaml"
    script.write_text(SCRIPT)
    facts = default_templates().sandbox_facts
    cut = facts.replace(
        " The harness seeds `random` and `numpy.random` (including `numpy.random.default_rng()` without arguments) with a "
        "fresh seed for every execution: do not set seeds yourself, a fixed seed would make every answer the same.", ""
    )
    assert cut != facts and "do not set seeds" not in cut
    (tmp_path / "nohint.yaml").write_text(f"name: no-seed-advice\nsandbox_facts: {json.dumps(cut)}\n")
    (tmp_path / "hint.yaml").write_text("structured_output: auto\n")  # a condition file: run-wide prompts (the defaults)
    return pack, script, tmp_path


def test_two_conditions_are_paired_and_compare_reports_the_effect(capsys, setup, sandbox_backend):
    pack, script, tmp = setup
    n = 20
    out = tmp / "run"
    code, _, err = _cli(
        capsys, "run", "--model", f"scripted:{script}", "--pack", str(pack), "--mode", "tool", "--n", str(n),
        "--reference-n", "2000", "--seed", "7", "--condition", f"hint={tmp / 'hint.yaml'}",
        "--condition", f"nohint={tmp / 'nohint.yaml'}", "--out", str(out), "--sandbox", sandbox_backend, "-q",
    )
    assert code == 0, err

    # records: one per (scenario, index, condition), paired by seed, ids carrying the condition
    with RunStore(out) as store:
        records = list(store.records())
    assert len(records) == 2 * UNIFORMS * n and {r.status.value for r in records} == {"ok"}
    by_key = {(r.condition, r.scenario, r.index): r for r in records}
    for (cond, sc, i), rec in by_key.items():
        assert rec.episode_id == f"scripted:{script}/tool@{cond}/{sc}/{i}"
        assert rec.seed == by_key[("hint" if cond == "nohint" else "nohint", sc, i)].seed  # paired
    seeded = {r.samples[0] for r in records if r.condition == "nohint"}
    assert len(seeded) == 1  # random.seed(1234): one value for every episode
    assert len({r.samples[0] for r in records if r.condition == "hint"}) == UNIFORMS * n

    # the trace: each request's system prompt is its condition's text; episode_start names the condition
    events = list(read_trace(out))
    starts = {e.episode_id: e.payload["condition"] for e in events if e.event == "episode_start"}
    assert set(starts.values()) == {"hint", "nohint"}
    for e in events:
        if e.event == "model_request" and e.payload["messages"][0]["type"] == "system":
            system = e.payload["messages"][0]["data"]["content"]
            assert ("do not set seeds yourself" in system) == (starts[e.episode_id] == "hint")

    # report: one arm per condition, and what each condition sent
    code, report_out, err = _cli(capsys, "report", str(out), "--json")
    assert code == 0, err
    report = json.loads(report_out)
    arms = {(s["mode"], s["passed"]) for s in report["summary"]}
    assert {m for m, _ in arms} == {"tool@hint", "tool@nohint"}
    passed = {s["mode"]: s["passed"] for s in report["summary"]}
    assert passed["tool@nohint"] == 0 and passed["tool@hint"] >= UNIFORMS - 2
    conditions = {c["condition"]: c for c in report["conditions"]}
    assert conditions["nohint"]["prompts"] == [f"no-seed-advice ({_digest(tmp / 'nohint.yaml')})"]
    assert conditions["hint"]["prompts"] == [default_templates().label()]

    # compare: the condition effect, paired by scenario, McNemar exact and the paired bootstrap
    code, cmp_out, err = _cli(capsys, "compare", str(out), "--json", "--bootstrap", "2000")
    assert code == 0, err
    result = json.loads(cmp_out)
    (c,) = result["comparisons"]
    assert c["a"] == f"scripted:{script}/tool@hint" and c["b"] == f"scripted:{script}/tool@nohint"
    assert c["b_only"] == 0 and c["a_only"] == passed["tool@hint"] and c["scenarios"] == UNIFORMS
    assert c["mcnemar_pvalue"] == pytest.approx(stats.binomtest(0, c["a_only"], 0.5).pvalue)
    assert c["diff"] == pytest.approx(-passed["tool@hint"] / UNIFORMS)
    assert c["diff_ci_high"] < 0  # every resample of 8 pairs has a passing hint arm
    assert [r["conditions"][0]["condition"] for r in result["runs"]] == ["hint"]
    code, text, err = _cli(capsys, "compare", str(out), "--bootstrap", "200")
    assert code == 0 and "condition nohint: prompts no-seed-advice" in text and "McNemar" in text, text

    # the audit sees the fixed seed only where the prompt did not advise against it
    code, audit_out, err = _cli(capsys, "audit", str(out), "--json")
    flagged = [f["episode_id"] for f in json.loads(audit_out)["flags"] if f["flag"] == "seed_fixed"]
    assert len(flagged) == UNIFORMS * n and all("/tool@nohint/" in ep for ep in flagged)


def _digest(path: Path) -> str:
    from stochbox.conditions.templates import load_prompt_templates

    return load_prompt_templates(path).digest


def test_a_run_without_conditions_keeps_its_ids_and_reports_one_implicit_condition(capsys, setup, sandbox_backend):
    pack, script, tmp = setup
    out = tmp / "plain"
    code, _, err = _cli(
        capsys, "run", "--model", f"scripted:{script}", "--pack", str(pack), "--scenario", "u0", "--mode", "tool",
        "--n", "3", "--reference-n", "200", "--out", str(out), "--sandbox", sandbox_backend, "-q",
    )
    assert code == 0, err
    with RunStore(out) as store:
        ids = sorted(r.episode_id for r in store.records())
        assert {r.condition for r in store.records()} == {None}
    assert ids == [f"scripted:{script}/tool/u0/{i}" for i in range(3)]
    code, report_out, _ = _cli(capsys, "report", str(out), "--json")
    report = json.loads(report_out)
    assert report["conditions"] == [
        {"condition": None, "prompts": [default_templates().label()], "structured_output": "auto", "model_options": {}}
    ]
    assert [s["mode"] for s in report["summary"]] == ["tool"]


def test_two_runs_that_differ_only_in_prompts_compare_paired(capsys, setup, sandbox_backend):
    pack, script, tmp = setup
    common = ("--model", f"scripted:{script}", "--pack", str(pack), "--mode", "tool", "--n", "10", "--reference-n", "1000",
              "--seed", "5", "--sandbox", sandbox_backend, "-q")
    assert _cli(capsys, "run", *common, "--out", str(tmp / "a"))[0] == 0
    assert _cli(capsys, "run", *common, "--prompts", str(tmp / "nohint.yaml"), "--out", str(tmp / "b"))[0] == 0
    with RunStore(tmp / "a") as sa, RunStore(tmp / "b") as sb:
        seeds_a = {(r.scenario, r.index): r.seed for r in sa.records()}
        seeds_b = {(r.scenario, r.index): r.seed for r in sb.records()}
    assert seeds_a == seeds_b  # same episodes, same seeds: only the words differ
    code, cmp_out, err = _cli(capsys, "compare", str(tmp / "a"), str(tmp / "b"), "--json", "--bootstrap", "500")
    assert code == 0, err
    result = json.loads(cmp_out)
    (c,) = result["comparisons"]
    assert c["scenarios"] == UNIFORMS and c["b_passed"] == 0 and c["a_only"] == c["a_passed"] > 0
    prompts = [r["conditions"][0]["prompts"] for r in result["runs"]]
    assert prompts[0] == [default_templates().label()] and prompts[1][0].startswith("no-seed-advice (")


def test_condition_and_prompt_mistakes_are_one_line_errors(capsys, setup, tmp_path):
    pack, script, tmp = setup
    bad = tmp_path / "bad.yaml"
    common = ("run", "--model", f"scripted:{script}", "--pack", str(pack), "--out", str(tmp_path / "never"))
    cases = {
        "native_sytem: hi\n": ("--prompts", "unknown field 'native_sytem'"),
        "user: 'Answer: {scenario}'\n": ("--prompts", "field 'user': unknown field {scenario}"),
        "user: 'Answer now.'\n": ("--prompts", "field 'user': required field {prompt} is missing"),
        "native_system: '{0} {answer_instructions}'\n": ("--prompts", "field 'native_system': positional fields"),
        "prompts: missing.yaml\n": ("--condition", "missing.yaml' cannot be read"),
        "structured_output: maybe\n": ("--condition", "field 'structured_output' must be auto or off"),
        "model_options: {seed: 3}\n": ("--condition", "stochbox sets this request field itself"),
        "temperature: 1\n": ("--condition", "unknown field 'temperature'"),
    }
    for text, (option, message) in cases.items():
        bad.write_text(text)
        value = str(bad) if option == "--prompts" else f"c1={bad}"
        code, _, err = _cli(capsys, *common, option, value)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and message in lines[0] and str(bad) in lines[0], (text, err)
    assert not (tmp_path / "never").exists()
    for argv, message in (
        (("--condition", "x"), "expected NAME=FILE"),
        (("--condition", f"a b={tmp / 'hint.yaml'}"), "names are letters"),
        (("--condition", f"a={tmp / 'hint.yaml'}", "--condition", f"a={tmp / 'nohint.yaml'}"), "each condition name may be given once"),
        (("--model-option", "top_p"), "expected KEY=VALUE"),
        (("--model-option", "response_format={}"), "stochbox sets this request field itself"),
        (("--structured-output", "maybe"), "--structured-output"),
    ):
        code, _, err = _cli(capsys, *common, *argv)
        lines = [ln for ln in err.splitlines() if ln.strip()]
        assert code == 2 and len(lines) == 1 and message in lines[0], (argv, err)


def test_condition_files_and_model_option_values(tmp_path):
    from stochbox.conditions import load_condition, parse_model_option

    assert parse_model_option("top_p=0.9") == ("top_p", 0.9)
    assert parse_model_option("reasoning_effort=high") == ("reasoning_effort", "high")
    assert parse_model_option('stop=["x"]') == ("stop", ["x"])
    assert parse_model_option("logprobs=true") == ("logprobs", True)
    assert parse_model_option("name=a=b") == ("name", "a=b")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "t.yaml").write_text("name: terse\nuser: 'Q: {prompt}'\n")
    (tmp_path / "c.yaml").write_text(
        textwrap.dedent("""
        prompts: p/t.yaml
        structured_output: off
        model_options: {top_p: 0.5, min_p: 0.05}
        """)
    )
    c = load_condition("terse", tmp_path / "c.yaml")
    assert c.prompts.name == "terse" and c.prompts.user == "Q: {prompt}" and c.structured_output == "off"
    assert c.prompts.native_system == default_templates().native_system  # templates left out keep the defaults
    assert c.model_options == {"top_p": 0.5, "min_p": 0.05}
    inline = tmp_path / "inline.yaml"
    inline.write_text("prompts: {user: 'Now: {prompt}'}\n")
    assert load_condition("i", inline).prompts.user == "Now: {prompt}"


def test_resume_uses_the_builtin_templates_recorded_in_run_json(capsys, setup, sandbox_backend):
    import sqlite3

    pack, script, tmp = setup
    out = tmp / "resumable"
    code, _, err = _cli(
        capsys, "run", "--model", f"scripted:{script}", "--pack", str(pack), "--scenario", "u0", "--mode", "tool",
        "--n", "2", "--reference-n", "200", "--out", str(out), "--sandbox", sandbox_backend, "-q",
    )
    assert code == 0, err
    info = json.loads((out / "run.json").read_text())
    assert info["default_prompts"]["user"] == default_templates().user and info["config"]["prompts"] is None
    # as if a later stochbox had other defaults: the run keeps the words it started with
    info["default_prompts"]["user"] = "Recorded: {prompt}"
    (out / "run.json").write_text(json.dumps(info))
    with sqlite3.connect(out / "run.sqlite") as db:
        db.execute("DELETE FROM episodes WHERE idx = 1")
    code, _, err = _cli(capsys, "run", "--resume", str(out), "-q")
    assert code == 0, err
    users = [e.payload["messages"][1]["data"]["content"] for e in read_trace(out) if e.event == "model_request"
             and e.episode_id.endswith("/1")]
    assert users and users[-1].startswith("Recorded: Draw one number")


def test_compare_pairs_conditions_per_mode_then_modes_within_each_condition():
    from types import SimpleNamespace

    from stochbox.conditions import Condition
    from stochbox.run.config import RunConfig
    from stochbox.analysis.compare import arm_pairs

    def pairs(**kw):
        run = SimpleNamespace(config=RunConfig(models=["m"], **kw), run_dir=Path("r"))
        return [(a[1], b[1]) for _, a, _, b in arm_pairs([run])]

    conds = [Condition(name="a"), Condition(name="b"), Condition(name="c")]
    assert pairs(modes=["native", "tool"], conditions=conds) == [
        ("native@a", "native@b"), ("native@a", "native@c"), ("tool@a", "tool@b"), ("tool@a", "tool@c"),
        ("native@a", "tool@a"), ("native@b", "tool@b"), ("native@c", "tool@c"),
    ]
    assert pairs(modes=["native", "tool"], conditions=conds[:1]) == [("native@a", "tool@a")]
    assert pairs(modes=["native", "tool"]) == [("native", "tool")]
