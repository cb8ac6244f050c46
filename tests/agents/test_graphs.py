"""The scripted model through the real native and tool-mode LangGraph graphs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stochbox.agents.base import AgentLimits, AgentOptions
from stochbox.agents.llm import LLMAgent, make_llm_agent
from stochbox.errors import ModelSpecError
from stochbox.results import EpisodeStatus, Mode
from stochbox.seeding import derive_seed

SCRIPTS = Path(__file__).parent / "scripts"


def agent(name: str, **opts) -> LLMAgent:
    a = make_llm_agent(f"scripted:{SCRIPTS / name}", AgentOptions(**opts))
    assert isinstance(a, LLMAgent)
    return a


def test_tool_mode_runs_the_sampler_in_the_sandbox_and_submits_its_output(episode, canonical, unsafe_sandbox):
    a = agent("die_sampler.yaml")
    assert a.tool_protocol == "functions"
    out, rec = episode(a, canonical["die-roll"], Mode.tool, seed=11)
    assert out.status is EpisodeStatus.ok
    assert (out.n_model_calls, out.n_tool_calls) == (2, 1)
    assert out.tool_code == ["import random\nprint(random.randint(1, 6))"]
    (ex,) = rec.of("sandbox_exec")
    # the k-th execution uses derive_seed(episode seed, "exec", k); the submitted sample is what it printed
    assert ex["seed"] == derive_seed(11, "exec", 0)
    assert out.samples == [int(ex["stdout"].strip())]
    replay = unsafe_sandbox.execute(ex["code"], seed=ex["seed"])
    assert replay.stdout == ex["stdout"]
    assert rec.names() == [
        "model_request", "model_response", "tool_call", "sandbox_exec", "tool_result",
        "model_request", "model_response", "tool_call", "parse", "tool_result", "sample_submitted",
    ]
    offered = rec.of("model_request")[0]["tools"]
    assert offered == ["python", "submit"]
    first = rec.of("model_response")[0]
    assert first["tool_calls"][0]["name"] == "python" and first["usage"]["input_tokens"] > 0


def test_native_mode_answers_the_constant(episode, canonical):
    out, rec = episode(agent("die_sampler.yaml"), canonical["die-roll"], Mode.native)
    assert out.status is EpisodeStatus.ok and out.samples == [3]
    assert out.n_tool_calls == 0 and rec.of("sandbox_exec") == []
    assert rec.of("parse")[0]["strategy"] == "text:marker"
    assert rec.of("model_request")[0]["tools"] == []


def test_code_block_protocol_with_a_text_only_model(episode, canonical):
    a = agent("die_code_blocks.yaml")
    assert a.tool_protocol == "code"
    out, rec = episode(a, canonical["die-roll"], Mode.tool, seed=5)
    assert out.status is EpisodeStatus.ok
    (ex,) = rec.of("sandbox_exec")
    assert ex["tool"] == "code_block" and ex["seed"] == derive_seed(5, "exec", 0)
    assert out.samples == [int(ex["stdout"].strip())]
    assert out.tool_code == ["import random\nprint(random.randint(1, 6))\n"]
    # the second request shows the model the output of its block
    second = rec.of("model_request")[1]["messages"][-1]["data"]["content"]
    assert "Output of code block 1" in second and ex["stdout"].strip() in second


def test_functions_protocol_refused_for_a_text_only_model():
    with pytest.raises(ModelSpecError, match="no function calling"):
        agent("die_code_blocks.yaml", tool_protocol="functions")


def test_parse_failure_is_recorded_with_its_reason(episode, canonical):
    out, rec = episode(agent("garbage.jsonl"), canonical["die-roll"], Mode.native)
    assert out.status is EpisodeStatus.parse_error and out.samples == []
    assert "no number" in out.reason
    (p,) = rec.of("parse")
    assert p["ok"] is False and p["reason"] == out.reason
    assert out.raw_answer.startswith("I cannot predict")


def test_tool_mode_text_answer_that_does_not_parse_is_sent_back(episode, canonical):
    # garbage.jsonl has one turn; the retry request exhausts the script -> the episode fails, the run does not
    out, rec = episode(agent("garbage.jsonl"), canonical["die-roll"], Mode.tool)
    assert out.status is EpisodeStatus.failed
    assert "turn 2 requested" in out.reason
    assert "could not be used" in rec.of("model_request")[1]["messages"][-1]["data"]["content"]
    assert rec.of("error")[0]["where"] == "model"


def test_max_model_calls_ends_the_episode_with_status_limit(episode, canonical):
    limits = AgentLimits(max_model_calls=3, max_tool_calls=10)
    out, rec = episode(agent("loops_forever.yaml"), canonical["die-roll"], Mode.tool, limits=limits)
    assert out.status is EpisodeStatus.limit and out.reason == "max_model_calls"
    assert out.n_model_calls == 3 and out.n_tool_calls == 3
    assert rec.of("limit_hit") == [{"limit": "max_model_calls", "value": 3}]
    # the model was told before its last reply
    assert "last reply" in rec.of("model_request")[-1]["messages"][-1]["data"]["content"]


def test_max_tool_calls_refuses_further_calls(episode, canonical):
    limits = AgentLimits(max_model_calls=4, max_tool_calls=2)
    out, rec = episode(agent("loops_forever.yaml"), canonical["die-roll"], Mode.tool, limits=limits)
    assert out.status is EpisodeStatus.limit and out.n_tool_calls == 2
    assert len(rec.of("sandbox_exec")) == 2
    assert {h["limit"] for h in rec.of("limit_hit")} == {"max_tool_calls", "max_model_calls"}
    refused = rec.of("model_request")[3]["messages"][-2]["data"]["content"]
    assert "tool call limit reached" in refused


def test_exec_timeout_is_a_message_and_a_limit_hit(episode, canonical, tmp_path):
    script = tmp_path / "slow.yaml"
    script.write_text(json.dumps({"tool": [
        {"tool_calls": [{"name": "python", "args": {"code": "import time\ntime.sleep(30)"}}]},
        {"tool_calls": [{"name": "submit", "args": {"answer": 2}}]},
    ]}))
    a = make_llm_agent(f"scripted:{script}")
    out, rec = episode(a, canonical["die-roll"], Mode.tool, limits=AgentLimits(exec_timeout_s=0.5))
    assert out.status is EpisodeStatus.ok and out.samples == [2]
    (ex,) = rec.of("sandbox_exec")
    assert ex["timed_out"] and ex["killed_reason"] == "timeout"
    assert rec.of("limit_hit") == [{"limit": "exec_timeout_s", "value": 0.5}]
    assert "time limit" in rec.of("tool_result")[0]["output"]


def test_episode_wall_time_limit(episode, canonical, tmp_path):
    script = tmp_path / "slow.yaml"
    script.write_text(json.dumps({"on_end": "repeat_last", "tool": [
        {"tool_calls": [{"name": "python", "args": {"code": "import time\ntime.sleep(0.4)"}}]},
    ]}))
    a = make_llm_agent(f"scripted:{script}")
    limits = AgentLimits(max_model_calls=50, max_tool_calls=50, episode_timeout_s=1.0)
    out, rec = episode(a, canonical["die-roll"], Mode.tool, limits=limits)
    assert out.status is EpisodeStatus.limit and out.reason == "episode_timeout_s"
    assert rec.of("limit_hit")[-1]["limit"] == "episode_timeout_s"


def test_tool_errors_become_messages(episode, canonical, tmp_path):
    script = tmp_path / "errors.yaml"
    script.write_text(json.dumps({"tool": [
        {"tool_calls": [{"name": "python", "args": {}}]},  # missing argument
        {"tool_calls": [{"name": "python", "args": {"code": "raise ValueError('boom')"}}]},
        {"tool_calls": [{"name": "teleport", "args": {}}]},
        {"tool_calls": [{"name": "submit", "args": {"answer": "seven"}}]},  # invalid answer: sent back
        {"tool_calls": [{"name": "submit", "args": {"answer": 6}}]},
    ]}))
    a = make_llm_agent(f"scripted:{script}")
    out, rec = episode(a, canonical["die-roll"], Mode.tool, limits=AgentLimits(max_model_calls=6))
    assert out.status is EpisodeStatus.ok and out.samples == [6]
    results = rec.of("tool_result")
    assert results[0]["ok"] is False and "code: Field required" in results[0]["error"]
    assert results[1]["ok"] is True and "ValueError: boom" in results[1]["output"] and "[exit code 1]" in results[1]["output"]
    assert results[2]["ok"] is False and "unknown tool 'teleport'" in results[2]["error"]
    assert results[3]["ok"] is False and results[4]["ok"] is True
    assert [p["ok"] for p in rec.of("parse")] == [False, True]


def test_missing_sandbox_is_reported_to_the_model(episode, canonical):
    out, rec = episode(agent("die_sampler.yaml"), canonical["die-roll"], Mode.tool, sandbox=None)
    assert out.status is not EpisodeStatus.ok
    assert "no sandbox" in rec.of("sandbox_exec")[0]["sandbox_error"]
    assert rec.of("tool_result")[0]["output"].startswith("[sandbox error: no sandbox")


def test_batch_protocol_partial(episode, canonical, tmp_path):
    script = tmp_path / "batch.yaml"
    script.write_text(json.dumps({"native": [{"text": '{"samples": [1, 2, 3, "x", 9.5]}'}]}))
    out, rec = episode(make_llm_agent(f"scripted:{script}"), canonical["die-roll"], Mode.native, n=5)
    assert out.status is EpisodeStatus.partial and out.samples == [1, 2, 3]
    assert "3 valid of 5" in out.reason
    assert "5 times" in rec.of("model_request")[0]["messages"][1]["data"]["content"]


def test_scripted_file_errors_are_model_spec_errors(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("tool:\n  - txt: hello\n")
    with pytest.raises(ModelSpecError, match="bad.yaml.*txt"):
        make_llm_agent(f"scripted:{bad}")
    with pytest.raises(ModelSpecError, match="cannot be read"):
        make_llm_agent(f"scripted:{tmp_path / 'missing.yaml'}")


def test_script_without_turns_for_a_mode_fails_the_episode_only(episode, canonical):
    out, rec = episode(agent("loops_forever.yaml"), canonical["die-roll"], Mode.native)
    assert out.status is EpisodeStatus.failed and "no turns" in out.reason
