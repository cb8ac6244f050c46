"""The ``sandbox_exec`` payload: one builder for the tool ledger and the oracle baseline."""

from __future__ import annotations

from pathlib import Path

from stochbox.agents.baselines import OracleAgent
from stochbox.agents.exec_event import sandbox_exec_fields
from stochbox.agents.llm import make_llm_agent
from stochbox.results import Mode
from stochbox.sandbox.base import ExecResult

SCRIPTS = Path(__file__).parent / "scripts"
REQUEST = {"code": "print(1)", "globals_": None, "seed": 3, "timeout_s": 2.0, "output_cap": 100}


def test_untrimmed_fields_are_the_result_as_returned():
    res = ExecResult(stdout="x" * 50, stderr="boom", exit_code=1, truncated=False, backend="local", seed=3)
    fields = sandbox_exec_fields(res, **REQUEST)
    assert list(fields)[:5] == ["code", "globals", "seed", "timeout_s", "output_cap"]
    assert fields["globals"] == {} and fields["stdout"] == "x" * 50 and fields["stderr"] == "boom"
    assert (fields["exit_code"], fields["truncated"], fields["backend"]) == (1, False, "local")


def test_trim_keeps_the_stdout_head_and_the_stderr_tail_and_marks_a_cut_stdout():
    res = ExecResult(stdout="0123456789", stderr="Traceback\nValueError: end", exit_code=1)
    fields = sandbox_exec_fields(res, **REQUEST, trim=4)
    assert (fields["stdout"], fields["stderr"], fields["truncated"]) == ("0123", " end", True)
    short = sandbox_exec_fields(ExecResult(stdout="01", stderr="Traceback\nValueError: end"), **REQUEST, trim=4)
    assert short["truncated"] is False  # a cut stderr tail does not make the recorded stdout a prefix


def test_tool_and_oracle_executions_record_the_same_fields(episode, canonical):
    die = canonical["die-roll"]
    _, tool_rec = episode(make_llm_agent(f"scripted:{SCRIPTS / 'die_sampler.yaml'}"), die, Mode.tool, seed=11)
    _, oracle_rec = episode(OracleAgent(), die, Mode.tool, n=3, seed=11)
    (tool_exec,) = tool_rec.of("sandbox_exec")
    (oracle_exec,) = oracle_rec.of("sandbox_exec")
    assert set(tool_exec) - {"tool", "exec_index"} == set(oracle_exec) - {"program"} == set(sandbox_exec_fields(ExecResult(), **REQUEST))
    assert oracle_exec["program"] == die.ground_truth.code and oracle_exec["exit_code"] == 0
