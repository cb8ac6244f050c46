"""Issue 17: malformed model output never ends a run, and a stochbox bug in one episode costs that episode only.

The Unicode boundary (stochbox/unicode_text.py and where it is applied), the
record's safety net, a scripted model replying with a lone surrogate through
the command line, and the internal-failure path of the runner.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from langchain_core.messages import AIMessage

from stochbox.agents.exec_event import valid_exec_result
from stochbox.agents.ledger import valid_message
from stochbox.cli import main
from stochbox.run.config import RunConfig
from stochbox.run.internal_failure import EXIT_INTERNAL_ERRORS, INTERNAL_ERROR
from stochbox.run.executors.processes import WorkerEpisodeError, _result
from stochbox.results import EpisodeRecord
from stochbox.run.runner import start_run
from stochbox.sandbox.base import ExecResult
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace
from stochbox.unicode_text import valid_unicode, valid_unicode_data


def test_valid_unicode_replaces_lone_surrogates_joins_pairs_and_counts():
    text = "ok é 😀"
    assert valid_unicode(text) == (text, 0) and valid_unicode(text)[0] is text
    assert valid_unicode("ANSWER: \ud83c 4.5") == ("ANSWER: \ufffd 4.5", 1)
    assert valid_unicode("\ud83d\ude00 and \udc00\ud800") == ("😀 and \ufffd\ufffd", 2)  # a pair is the character it encodes
    data = {"args": {"\udfff": ["x\ud800", 1, None]}, "n": 3}
    fixed, n = valid_unicode_data(data)
    assert n == 2 and fixed == {"args": {"\ufffd": ["x\ufffd", 1, None]}, "n": 3}
    json.dumps(fixed, ensure_ascii=False).encode("utf-8")
    clean = {"a": ["b", 1]}
    assert valid_unicode_data(clean)[0] is clean


def test_the_boundary_covers_content_tool_calls_reasoning_and_sandbox_output():
    msg = AIMessage(
        content="ANSWER: \ud83c 4.5",
        tool_calls=[{"name": "submit", "args": {"answer": "\ud800 1"}, "id": "c1", "type": "tool_call"}],
        additional_kwargs={"reasoning_content": "think \udc80"},
    )
    fixed, n = valid_message(msg)
    assert n == 3
    assert fixed.content == "ANSWER: \ufffd 4.5" and fixed.tool_calls[0]["args"] == {"answer": "\ufffd 1"}
    assert fixed.additional_kwargs["reasoning_content"] == "think \ufffd"
    same = AIMessage(content="fine")
    assert valid_message(same) == (same, 0)
    res, n = valid_exec_result(ExecResult(stdout="a\ud800", stderr="\udfff", exit_code=0))
    assert n == 2 and (res.stdout, res.stderr) == ("a\ufffd", "\ufffd")


def test_a_record_built_from_an_invalid_string_is_stored_not_lost(tmp_path):
    record = EpisodeRecord(
        run_id="r", episode_id="e", scenario="s", model="m", mode="native", index=0, seed=1, n_requested=1, status="parse_error",
        raw_answer="ANSWER: \ud83c", reason="bad \udfff", tool_code=["print('\ud800')"],
    )
    assert record.raw_answer == "ANSWER: \ufffd" and record.tool_code == ["print('\ufffd')"]
    with RunStore(tmp_path, create=True) as store:
        store.put(record)
        assert list(store.records()) == [record]


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


def test_a_scripted_reply_with_a_lone_surrogate_costs_nothing(capsys, tiny_pack, sandbox_backend, tmp_path):
    """The issue's first bullet, through the command line: the run completes and the number after the surrogate is read."""
    script = tmp_path / "surrogate.jsonl"
    script.write_text(json.dumps({"text": "ANSWER: \ud83c 4.5"}) + "\n")  # the JSON escape \ud83c, as a provider sends it
    out_dir = tmp_path / "run"
    code, out, err = _cli(capsys, "run", "--model", f"scripted:{script}", "--pack", str(tiny_pack), "--scenario", "expo",
                          "--n", "3", "--reference-n", "200", "--out", str(out_dir), "--sandbox", sandbox_backend, "-q")
    assert code == 0 and "Traceback" not in err, err
    with RunStore(out_dir) as store:
        records = list(store.records())
    assert [(r.status.value, r.samples, r.raw_answer) for r in records] == [("ok", [4.5], "ANSWER: \ufffd 4.5")] * 3
    responses = [e.payload for e in read_trace(out_dir) if e.event == "model_response"]
    assert [p["unicode_replaced"] for p in responses] == [1, 1, 1]


def _boom_on_episode(monkeypatch, index: int) -> None:
    """A bug in stochbox's own code (after the agent answered) for one episode."""
    import stochbox.run.episode as episode

    real = episode.valid_samples

    def buggy(spec, outcome):
        if spec.index == index:
            raise RuntimeError("boom \ud800")  # the message itself is not valid text either
        return real(spec, outcome)

    monkeypatch.setattr(episode, "valid_samples", buggy)


def test_an_internal_error_fails_one_episode_and_the_run_goes_on(monkeypatch, tiny_pack, sandbox, tmp_path):
    _boom_on_episode(monkeypatch, 2)
    cfg = RunConfig.model_validate(dict(models=["baseline:collapse"], packs=[str(tiny_pack)], scenarios=["coin"], n=5,
                                        reference_n=200, concurrency=2))
    outcome = start_run(cfg, tmp_path / "run", sandbox=sandbox)
    assert outcome.status == "complete" and outcome.done == 5 and outcome.internal_errors == 1
    assert outcome.statuses == {"ok": 4, "failed": 1}
    with RunStore(tmp_path / "run") as store:
        (failed,) = [r for r in store.records() if r.status.value == "failed"]
    assert failed.index == 2 and failed.reason == f"{INTERNAL_ERROR}: RuntimeError: boom \ufffd"
    events = list(read_trace(tmp_path / "run"))
    (error,) = [e for e in events if e.event == "error"]
    assert error.episode_id == failed.episode_id and error.payload["where"] == "internal"
    assert error.payload["exception"] == "RuntimeError" and "valid_samples" in error.payload["traceback"]
    assert events[-1].event == "run_end" and events[-1].payload["internal_errors"] == 1
    ends = Counter(e.payload["status"] for e in events if e.event == "episode_end")
    assert ends == {"ok": 4, "failed": 1}


def test_an_internally_failed_episode_keeps_its_condition(monkeypatch, tiny_pack, sandbox, tmp_path):
    _boom_on_episode(monkeypatch, 1)
    cfg = RunConfig.model_validate(dict(models=["baseline:collapse"], packs=[str(tiny_pack)], scenarios=["coin"], n=3,
                                        reference_n=200, conditions=[{"name": "a"}, {"name": "b"}]))
    outcome = start_run(cfg, tmp_path / "run", sandbox=sandbox)
    assert outcome.done == 6 and outcome.internal_errors == 2  # episode 1 of each condition
    with RunStore(tmp_path / "run") as store:
        failed = sorted((r.condition, r.index) for r in store.records() if r.status.value == "failed")
    assert failed == [("a", 1), ("b", 1)]


def test_the_command_says_how_many_episodes_failed_internally_and_exits_6(monkeypatch, capsys, tiny_pack, sandbox_backend, tmp_path):
    _boom_on_episode(monkeypatch, 0)
    code, out, err = _cli(capsys, "run", "--model", "baseline:collapse", "--pack", str(tiny_pack), "--scenario", "coin",
                          "--n", "4", "--reference-n", "200", "--out", str(tmp_path / "run"), "--sandbox", sandbox_backend, "-q")
    assert code == EXIT_INTERNAL_ERRORS == 6
    err = " ".join(err.split())  # the console wraps long lines
    assert "(failed 1, ok 3)" in err and "1 failed by an internal error" in err and "error: 1 episode(s) failed by an internal stochbox error" in err
    assert "KS@N" in out and "Traceback" not in err


def test_a_configuration_mistake_still_stops_the_run(monkeypatch, tiny_pack, sandbox, tmp_path):
    import stochbox.run.episode as episode
    from stochbox.errors import ConfigError

    def mistake(spec, outcome):
        raise ConfigError("a mistake the user must fix")

    monkeypatch.setattr(episode, "valid_samples", mistake)
    cfg = RunConfig.model_validate(dict(models=["baseline:collapse"], packs=[str(tiny_pack)], scenarios=["coin"], n=3, reference_n=200))
    with pytest.raises(ConfigError):
        start_run(cfg, tmp_path / "run", sandbox=sandbox)


def test_a_worker_process_crash_names_the_exception_it_reported():
    text = 'Traceback (most recent call last):\n  File "x.py", line 1, in f\nValueError: bad value \\ud800\n'
    with pytest.raises(WorkerEpisodeError) as info:
        _result(("crash", "e1", text))
    assert info.value.exception_type == "ValueError" and str(info.value) == "bad value \\ud800"
    assert info.value.traceback == text
