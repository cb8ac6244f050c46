"""The lean OpenAI-compatible client (stochbox.agents.openai_http): message and tool conversion,
request fields, error mapping for stochbox.agents.retry, sessions across event loops, and the native
graph's structured-output fallback -- against the real stub server over real sockets."""

from __future__ import annotations

import asyncio
import socket

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel

from stochbox.agents.native import rejected_response_format
from stochbox.agents.openai_http import (
    OPENAI_BASE_URL,
    OpenAICompatChatModel,
    OpenAIConnectionError,
    OpenAIResponseError,
    OpenAIStatusError,
    OpenAITimeoutError,
    to_openai_message,
)
from stochbox.run.config import RunConfig
from stochbox.agents.retry import classify, retry_after_s
from stochbox.run.runner import start_run
from stochbox.run.trace import read_trace

from stochbox.testing.openai_stub import value_for

PYTHON_TOOL = {
    "type": "function",
    "function": {"name": "python", "description": "Run code.", "parameters": {"type": "object", "properties": {"code": {"type": "string"}}}},
}


class Submit(BaseModel):
    """Submit the answer."""

    answer: float


@pytest.fixture
async def model(stub):
    chat = OpenAICompatChatModel(model="stub", base_url=stub.url)
    yield chat
    await chat.aclose()


# --- conversion ---------------------------------------------------------------------------


def test_messages_convert_to_openai_dicts():
    call = {"name": "python", "args": {"code": "print(1)"}, "id": "call_1"}
    broken = {"name": "python", "args": '{"code": ', "id": "call_2", "error": "not JSON"}
    assert to_openai_message(SystemMessage("sys")) == {"role": "system", "content": "sys"}
    assert to_openai_message(HumanMessage("hi", name="ann")) == {"role": "user", "content": "hi", "name": "ann"}
    assert to_openai_message(HumanMessage(["a", {"type": "text", "text": "b"}])) == {
        "role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    }
    assert to_openai_message(AIMessage("plain")) == {"role": "assistant", "content": "plain"}
    assert to_openai_message(AIMessage("", tool_calls=[call], invalid_tool_calls=[broken])) == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "python", "arguments": '{"code": "print(1)"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "python", "arguments": '{"code": '}},
        ],
    }
    assert to_openai_message(ToolMessage("0.5", tool_call_id="call_1", name="python")) == {
        "role": "tool", "content": "0.5", "tool_call_id": "call_1"
    }


def test_request_fields_and_max_tokens_spelling():
    local = OpenAICompatChatModel(model="m", base_url="http://127.0.0.1:9/v1", temperature=0.3, max_tokens=77)
    body = local.request_body([HumanMessage("x")], stop=["\n"], seed=5, response_format={"type": "json_object"})
    assert body == {
        "model": "m", "messages": [{"role": "user", "content": "x"}], "temperature": 0.3, "max_tokens": 77,
        "stop": ["\n"], "seed": 5, "response_format": {"type": "json_object"},
    }
    assert local.request_body([], max_tokens=5)["max_tokens"] == 5  # a bound value wins
    hosted = OpenAICompatChatModel(model="gpt-4o-mini", base_url=OPENAI_BASE_URL, max_tokens=77)
    assert hosted.request_body([])["max_completion_tokens"] == 77 and "max_tokens" not in hosted.request_body([])


@pytest.mark.parametrize(
    ("choice", "sent"),
    [
        (None, None),
        ("auto", "auto"),
        ("any", "required"),
        (True, "required"),
        ("python", {"type": "function", "function": {"name": "python"}}),
    ],
)
def test_bind_tools_formats_tools_and_tool_choice(choice, sent):
    chat = OpenAICompatChatModel(model="m", base_url="http://127.0.0.1:9/v1")
    bound = chat.bind_tools([PYTHON_TOOL, Submit], tool_choice=choice)
    tools = bound.kwargs["tools"]
    assert [t["function"]["name"] for t in tools] == ["python", "Submit"]
    assert tools[1]["function"]["parameters"]["properties"]["answer"]["type"] == "number"
    assert bound.kwargs.get("tool_choice") == sent


# --- against the stub ---------------------------------------------------------------------


async def test_a_tool_conversation_round_trips(model, stub):
    tools = model.bind_tools([PYTHON_TOOL, Submit], tool_choice="auto").bind(seed=11)
    first = await tools.ainvoke([SystemMessage("sys"), HumanMessage("draw")])
    x = value_for(11)
    assert first.tool_calls == [{"name": "python", "args": {"code": f"print({x!r})"}, "id": "call_2", "type": "tool_call"}]
    assert first.usage_metadata == {"input_tokens": 20, "output_tokens": 5, "total_tokens": 25}
    assert first.response_metadata["finish_reason"] == "tool_calls" and first.response_metadata["model_name"] == "stub"
    assert stub.last_request["seed"] == 11 and stub.last_request["tool_choice"] == "auto"
    assert [t["function"]["name"] for t in stub.last_request["tools"]] == ["python", "Submit"]

    history = [SystemMessage("sys"), HumanMessage("draw"), first, ToolMessage(str(x), tool_call_id="call_2", name="python")]
    second = await tools.ainvoke(history)
    assert stub.last_request["messages"][2:] == [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_2", "type": "function", "function": {"name": "python", "arguments": f'{{"code": "print({x!r})"}}'}}
        ]},
        {"role": "tool", "content": str(x), "tool_call_id": "call_2"},
    ]
    assert second.tool_calls == [] and second.content == f'{{"answer": {x}}}'  # the stub answers once it has a tool result


async def test_malformed_tool_arguments_become_invalid_tool_calls(model, stub):
    stub.inject({"bad_tool_json": True})
    msg = await model.bind_tools([PYTHON_TOOL]).ainvoke([HumanMessage("draw")])
    assert msg.tool_calls == []
    (bad,) = msg.invalid_tool_calls
    assert bad["name"] == "python" and bad["args"] == '{"code": "print(1)", ' and "not valid JSON" in bad["error"]


async def test_structured_output_request_and_empty_reply(model, stub):
    fmt = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}}
    msg = await model.bind(seed=3, response_format=fmt).ainvoke([HumanMessage("draw")])
    assert stub.last_request["response_format"] == fmt
    assert msg.content == f'{{"answer": {value_for(3)}}}'
    stub.inject({"empty": True})
    assert (await model.ainvoke([HumanMessage("draw")])).content == ""  # not an error: the parser decides


@pytest.mark.parametrize(
    ("fault", "error", "reason"),
    [
        ({"status": 429, "headers": {"retry-after-ms": "250"}}, OpenAIStatusError, "rate_limit"),
        ({"status": 503}, OpenAIStatusError, "server_error"),
        ({"status": 403}, OpenAIStatusError, None),
        ({"drop": True}, OpenAIConnectionError, "connection"),
        ({"no_choices": True}, OpenAIResponseError, None),
        ({"raw_body": "<html>bad gateway</html>"}, OpenAIResponseError, None),
        ({"raw_body": '{"error": {"message": "overloaded"}}'}, OpenAIResponseError, None),
    ],
    ids=["429", "503", "403", "drop", "no-choices", "not-json", "error-object"],
)
async def test_failures_map_to_what_stochbox_retry_understands(model, stub, fault, error, reason):
    stub.inject(fault)
    with pytest.raises(error) as caught:
        await model.ainvoke([HumanMessage("draw")])
    assert classify(caught.value) == reason
    if fault.get("status") == 429:
        assert caught.value.status_code == 429 and retry_after_s(caught.value) == 0.25
        assert "injected 429" in str(caught.value) and "injected 429" in caught.value.body
    assert (await model.ainvoke([HumanMessage("again")])).content  # the session survives every fault


@pytest.mark.parametrize("status", [400, 422, 500])
async def test_a_rejected_response_format_is_permanent_and_recognised(model, stub, status):
    body = '{"detail": "1 validation error: response_format.type: Input should be \'text\' or \'json_object\'"}'
    stub.inject({"status": status, "body": body})
    with pytest.raises(OpenAIStatusError) as caught:
        await model.bind(response_format={"type": "json_schema"}).ainvoke([HumanMessage("draw")])
    assert rejected_response_format(caught.value) and classify(caught.value) is None


async def test_timeouts_and_refused_connections(stub):
    slow = OpenAICompatChatModel(model="stub", base_url=stub.url, timeout_s=0.2)
    stub.inject({"hang_s": 3})
    with pytest.raises(OpenAITimeoutError) as caught:
        await slow.ainvoke([HumanMessage("draw")])
    assert classify(caught.value) == "timeout"
    await slow.aclose()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    refused = OpenAICompatChatModel(model="stub", base_url=f"http://127.0.0.1:{port}/v1")
    with pytest.raises(OpenAIConnectionError) as caught:
        await refused.ainvoke([HumanMessage("draw")])
    assert classify(caught.value) == "connection"
    await refused.aclose()


def test_sessions_follow_the_event_loop_and_sync_calls_work(stub):
    model = OpenAICompatChatModel(model="stub", base_url=stub.url)

    async def ask(seed: int) -> str:
        return (await model.bind(seed=seed).ainvoke([HumanMessage("draw")])).content

    # two loops in a row (two runs in one process): the second gets a fresh session
    assert asyncio.run(ask(1)) == f'{{"answer": {value_for(1)}}}'
    assert asyncio.run(ask(2)) == f'{{"answer": {value_for(2)}}}'
    # sync invoke, from plain code and from inside a running loop
    assert model.bind(seed=3).invoke([HumanMessage("draw")]).content == f'{{"answer": {value_for(3)}}}'

    async def sync_inside_a_loop() -> str:
        return model.bind(seed=4).invoke([HumanMessage("draw")]).content

    assert asyncio.run(sync_inside_a_loop()) == f'{{"answer": {value_for(4)}}}'
    model.close()  # from outside any loop: each session is closed in (or, its loop gone, detached from) its own loop
    model.close()  # idempotent
    assert model.bind(seed=5).invoke([HumanMessage("draw")]).content == f'{{"answer": {value_for(5)}}}'  # usable after close
    model.close()


async def test_two_loops_at_once_keep_their_own_sessions(model, stub):
    """A sync call (the private loop) while this loop's request is in flight must not close this loop's session."""
    stub.inject({"hang_s": 0.3})
    slow = asyncio.create_task(model.bind(seed=1).ainvoke([HumanMessage("draw")]))
    await asyncio.sleep(0.05)
    fast = await asyncio.to_thread(lambda: model.bind(seed=2).invoke([HumanMessage("draw")]))
    assert fast.content == f'{{"answer": {value_for(2)}}}'
    assert (await slow).content == f'{{"answer": {value_for(1)}}}'


@pytest.mark.parametrize("client", ["stochbox", "langchain"])
def test_native_graph_falls_back_when_the_server_rejects_json_schema(stub, unit_pack, sandbox, tmp_path, client):
    """llama-cpp-python's server answers 500 naming response_format for OpenAI's json_schema form;
    the agent then asks with its json_object form, without retrying the rejected one."""
    body = '{"error": {"message": "response_format: type must be text or json_object"}}'
    stub.inject({"status": 500, "body": body})
    cfg = RunConfig.model_validate(dict(models=["openai:stub"], base_url=stub.url, packs=[str(unit_pack)], n=3, reference_n=200, concurrency=1,
                                    openai_client=client))
    outcome = start_run(cfg, tmp_path / "run", sandbox=sandbox)
    assert outcome.statuses == {"ok": 3}
    events = list(read_trace(tmp_path / "run"))
    (rejected,) = [e.payload for e in events if e.event == "error"]
    assert rejected["where"] == "structured_output" and "json_schema rejected" in rejected["message"]
    assert not [e for e in events if e.event == "retry"]
    assert stub.requests == 4 and stub.last_request["response_format"]["type"] == "json_object"


def test_openai_client_option_from_the_command_line_to_run_json(stub, unit_pack, tmp_path, capsys, sandbox_backend):
    from stochbox.cli import main
    from stochbox.run.runinfo import read_run_info

    def cli(*argv: str) -> int:
        try:
            main(list(argv))
        except SystemExit as exc:
            return exc.code if isinstance(exc.code, int) else 0
        return 0

    common = ("--model", "openai:stub", "--base-url", stub.url, "--pack", str(unit_pack), "--n", "2", "--reference-n", "100",
              "--sandbox", sandbox_backend, "-q")
    assert cli("run", *common, "--openai-client", "langchain", "--out", str(tmp_path / "lc")) == 0, capsys.readouterr().err
    info = read_run_info(tmp_path / "lc")
    assert info.config.openai_client == "langchain" and info.models[0]["client"] == "langchain-openai"
    assert cli("run", *common, "--out", str(tmp_path / "default")) == 0
    assert read_run_info(tmp_path / "default").models[0]["client"] == "stochbox"
    capsys.readouterr()
    assert cli("run", *common, "--openai-client", "httpx", "--out", str(tmp_path / "bad")) == 2
    err = capsys.readouterr().err
    assert "--openai-client" in err and "Traceback" not in err


def test_a_base_url_that_is_not_http_is_a_spec_error():
    from stochbox.agents.base import AgentOptions
    from stochbox.agents.llm import make_llm_agent
    from stochbox.errors import ModelSpecError

    with pytest.raises(ModelSpecError, match="'localhost:8000/v1' of 'openai:m' is not an http"):
        make_llm_agent("openai:m", AgentOptions(base_url="localhost:8000/v1"))
    agent = make_llm_agent("openai:m", AgentOptions(base_url="http://127.0.0.1:9/v1"))
    assert agent.describe()["client"] == "stochbox" and agent.tool_protocol == "functions"
