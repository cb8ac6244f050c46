"""The scripted chat model answers the same on its async path as on its sync path, and is reused per scenario and mode."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from stochbox.agents.base import EpisodeContext
from stochbox.agents.llm import make_llm_agent, scripted_backend
from stochbox.agents.scripted import ScriptedChatModel, ScriptToolCall, ScriptTurn
from stochbox.results import EpisodeStatus, Mode

SCRIPTS = Path(__file__).parent / "scripts"
TOOLS = [{"type": "function", "function": {"name": "python", "description": "run code", "parameters": {"type": "object"}}}]

PROMPT = [SystemMessage("You sample."), HumanMessage("Draw one number.")]
AFTER_TOOL = [
    *PROMPT,
    AIMessage("", tool_calls=[{"name": "python", "args": {"code": "print(3)"}, "id": "c0", "type": "tool_call"}]),
    ToolMessage("```\nwarming up\n[1, 2.5]\n```", tool_call_id="c0"),
]


def _model(**kw) -> ScriptedChatModel:
    turns = [
        ScriptTurn(tool_calls=[ScriptToolCall(name="python", args={"code": "print([1, 2.5])"})]),
        ScriptTurn(text="got {{last_output_line}}", tool_calls=[ScriptToolCall(name="submit", args={"answer": "{{last_output_line}}"})]),
    ]
    return ScriptedChatModel(turns=turns, **kw)


def _sync_and_async(model, messages):
    sync = model.invoke(messages)
    result = asyncio.run(model.ainvoke(messages))
    return sync, result


@pytest.mark.parametrize("messages", [PROMPT, AFTER_TOOL], ids=["first-turn", "after-tool-output"])
def test_async_reply_equals_sync_reply(messages):
    model = _model().bind(tools=TOOLS)
    sync, result = _sync_and_async(model, messages)
    assert result.content == sync.content
    assert result.tool_calls == sync.tool_calls
    assert result.usage_metadata == sync.usage_metadata
    assert result.response_metadata == sync.response_metadata
    if messages is AFTER_TOOL:  # the placeholder really was filled from the tool output (JSON-decoded)
        assert result.content == "got [1, 2.5]"
        assert result.tool_calls[0]["args"] == {"answer": [1, 2.5]}


def test_async_errors_equal_sync_errors():
    over = [*AFTER_TOOL, AIMessage("second"), HumanMessage("again")]
    with pytest.raises(RuntimeError) as sync_err:
        _model().bind(tools=TOOLS).invoke(over)
    with pytest.raises(RuntimeError) as async_err:
        asyncio.run(_model().bind(tools=TOOLS).ainvoke(over))
    assert str(async_err.value) == str(sync_err.value) == "scripted model <script>: script has 2 turn(s), turn 3 requested"
    with pytest.raises(RuntimeError, match="no tools are bound"):
        asyncio.run(_model().ainvoke(PROMPT))  # a tool call without bound tools fails on both paths
    with pytest.raises(RuntimeError, match="no tools are bound"):
        _model().invoke(PROMPT)


def test_repeat_last_on_both_paths():
    model = ScriptedChatModel(turns=[ScriptTurn(text="a"), ScriptTurn(text="b")], on_end="repeat_last")
    long = [*PROMPT, AIMessage("a"), HumanMessage("more"), AIMessage("b"), HumanMessage("more")]
    sync, result = _sync_and_async(model, long)
    assert sync.content == result.content == "b"


def test_async_reply_runs_on_the_event_loop_thread():
    """The async path is the model's own: langchain-core's fallback would run _generate in a worker thread."""
    seen: list[threading.Thread] = []

    class Spy(ScriptedChatModel):
        def _reply(self, messages, tools):
            seen.append(threading.current_thread())
            return super()._reply(messages, tools)

    async def go():
        await Spy(turns=[ScriptTurn(text="x")]).ainvoke(PROMPT)
        return threading.current_thread()

    loop_thread = asyncio.run(go())
    assert seen == [loop_thread]


def test_scripted_backend_keeps_one_model_per_scenario_and_mode(tmp_path, canonical):
    script = tmp_path / "s.yaml"
    script.write_text("native:\n  - text: '{\"answer\": 1}'\ntool:\n  - text: '{\"answer\": 2}'\n")
    backend = scripted_backend(str(script))

    def ctx(scenario, mode, i):
        return EpisodeContext(run_id="r", episode_id=f"e{i}", scenario=scenario, mode=mode, n_samples=1, seed=i, emit=lambda *a, **k: None)

    die, coin = canonical["die-roll"], next(s for k, s in canonical.items() if k != "die-roll")
    first = backend.model_for(ctx(die, Mode.native, 0))
    assert backend.model_for(ctx(die, Mode.native, 1)) is first
    assert backend.model_for(ctx(die, Mode.tool, 2)) is not first
    assert backend.model_for(ctx(coin, Mode.native, 3)) is not first
    assert backend.model_for(ctx(die, Mode.tool, 2)).turns[0].text == '{"answer": 2}'


def _without_timing(events):
    """Trace events minus what legitimately differs between two runs: latencies and random message ids."""

    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items() if k not in ("latency_s", "generation_s", "duration_s", "id")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return [(name, strip(fields)) for name, fields in events]


@pytest.mark.parametrize("script, scenario_id", [("queue_tool.yaml", "shop-queue-length"), ("die_code_blocks.yaml", None)])
def test_one_agent_over_many_episodes_behaves_like_a_fresh_agent_per_episode(episode, queues, canonical, script, scenario_id):
    """The agent keeps the scripted model, the scenario's tools and their schemas between episodes: nothing else carries over."""
    scenario = queues[scenario_id] if scenario_id else canonical["die-roll"]
    calls = [dict(scenario=scenario, mode=Mode.tool, seed=s) for s in (3, 4, 3)]
    shared = episode.many(make_llm_agent(f"scripted:{SCRIPTS / script}"), calls)
    fresh = [episode.many(make_llm_agent(f"scripted:{SCRIPTS / script}"), [c])[0] for c in calls]
    for (out_shared, rec_shared), (out_fresh, rec_fresh) in zip(shared, fresh):
        assert out_shared == out_fresh
        assert _without_timing(rec_shared.events) == _without_timing(rec_fresh.events)
    assert shared[0][0].status is EpisodeStatus.ok
    assert shared[0][0].samples == shared[2][0].samples  # same seed, same answer, with or without reuse
