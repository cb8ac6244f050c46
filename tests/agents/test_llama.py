"""A real language model: SmolLM2-135M in-process (``local:smollm2``) and behind llama.cpp's
OpenAI-compatible server (``openai:<name> --base-url``). Marked ``llama``: skipped without the
``[local]`` extra unless STOCHBOX_REQUIRE_LLAMA=1 makes it mandatory.

Answers of a 135M model are mostly wrong; these tests check that episodes complete, are
traced and never crash, whatever the quality.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from stochbox.agents.base import AgentLimits, AgentOptions
from stochbox.agents.llm import make_llm_agent
from stochbox.results import EpisodeStatus, Mode

pytestmark = pytest.mark.llama

LIMITS = AgentLimits(max_model_calls=2, max_tool_calls=2, exec_timeout_s=10, episode_timeout_s=120)
OPTIONS = AgentOptions(max_tokens=96, threads=1)
COMPLETED = {EpisodeStatus.ok, EpisodeStatus.partial, EpisodeStatus.parse_error, EpisodeStatus.limit}


@pytest.fixture(scope="module")
def gguf(require_llama):
    from stochbox.agents.llama import smollm2_path

    return smollm2_path()


@pytest.fixture(scope="module")
def local_agent(gguf):
    agent = make_llm_agent("local:smollm2", OPTIONS)
    yield agent
    import asyncio

    asyncio.run(agent.aclose())


def test_local_smollm2_native_uses_the_schema_and_parses(local_agent, episode, canonical):
    assert local_agent.tool_protocol == "code"
    out, rec = episode(local_agent, canonical["die-roll"], Mode.native, seed=1, limits=LIMITS)
    # grammar-constrained JSON: the reply is {"answer": <integer>} whatever the model "thinks"
    assert out.status is EpisodeStatus.ok, (out.reason, out.raw_answer)
    assert json.loads(out.raw_answer)["answer"] == out.samples[0]
    resp = rec.of("model_response")[0]
    assert resp["usage"]["input_tokens"] > 0 and resp["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("scenario", ["die-roll", "weather-categorical", "shuffle-abcd"])
def test_local_smollm2_completes_tool_mode_episodes(local_agent, episode, canonical, scenario):
    out, rec = episode(local_agent, canonical[scenario], Mode.tool, seed=2, limits=LIMITS)
    assert out.status in COMPLETED, out.reason
    assert 1 <= out.n_model_calls <= LIMITS.max_model_calls
    assert len(rec.of("sandbox_exec")) == out.n_tool_calls
    assert rec.of("parse") or rec.of("limit_hit")


def test_local_model_is_reproducible_from_the_episode_seed(local_agent, episode, canonical):
    a, _ = episode(local_agent, canonical["normal-explicit"], Mode.native, seed=42, limits=LIMITS)
    b, _ = episode(local_agent, canonical["normal-explicit"], Mode.native, seed=42, limits=LIMITS)
    assert a.raw_answer == b.raw_answer


def test_local_model_without_constrained_decoding_and_with_sampling_options(local_agent, episode, canonical):
    from stochbox.conditions import ModelOptionError, ResolvedCondition

    free = ResolvedCondition(name="free", structured_output="off", model_options={"top_p": 0.5, "top_k": 5})
    out, rec = episode(local_agent, canonical["die-roll"], Mode.native, seed=3, limits=LIMITS, condition=free)
    assert out.status in COMPLETED and out.n_model_calls == 1, out.reason
    system = rec.of("model_request")[0]["messages"][0]["data"]["content"]
    assert "ANSWER: <value>" in system and "JSON object" not in system  # the text instructions, not the schema's
    bad = ResolvedCondition(name="bad", model_options={"nucleus": 0.5})
    with pytest.raises(ModelOptionError, match="--model-option nucleus: llama.cpp's create_chat_completion does not take it"):
        episode(local_agent, canonical["die-roll"], Mode.native, seed=3, limits=LIMITS, condition=bad)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(gguf, tmp_path_factory):
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = open(log_path, "wb")  # a file, not a pipe: an unread pipe would block the chatty server
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "smollm2",
         "--host", "127.0.0.1", "--port", str(port), "--n_threads", "1", "--n_ctx", "2048", "--verbose", "false"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"{url}/models", timeout=2).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"llama.cpp server did not start: {log_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.5)
    yield url
    proc.terminate()
    try:
        proc.wait(3)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


def test_openai_compatible_server_episodes(llama_server, episode, canonical):
    agent = make_llm_agent("openai:smollm2", AgentOptions(base_url=llama_server, max_tokens=96))
    calls = [
        dict(scenario=canonical[sc], mode=mode, seed=3, limits=LIMITS)
        for sc in ("die-roll", "weather-categorical")
        for mode in (Mode.native, Mode.tool)
    ]
    for kw, (out, rec) in zip(calls, episode.many(agent, calls)):
        assert out.status in COMPLETED, (kw["scenario"].id, kw["mode"], out.reason)
        assert rec.of("model_response")
        if kw["mode"] is Mode.native:
            assert out.status is EpisodeStatus.ok, out.raw_answer  # the schema reaches the server's grammar


def test_stochbox_run_against_the_server_in_both_modes(llama_server, tmp_path):
    out_dir = tmp_path / "run"
    cmd = [
        sys.executable, "-m", "stochbox", "run", "--model", "openai:smollm2", "--base-url", llama_server,
        "--scenario", "die-roll", "--scenario", "weather-categorical", "--pack", "canonical",
        "--mode", "both", "--n", "2", "--max-model-calls", "2", "--max-tool-calls", "2",
        "--sandbox", os.environ.get("STOCHBOX_TEST_SANDBOX", "unsafe-subprocess"), "--out", str(out_dir), "-q",
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    report = subprocess.run(
        [sys.executable, "-m", "stochbox", "report", str(out_dir), "--json"], capture_output=True, text=True, timeout=120
    )
    assert report.returncode == 0, report.stderr[-2000:]
    summary = json.loads(report.stdout)["summary"]
    assert {row["mode"] for row in summary} == {"native", "tool"}
    assert all(row["model"] == "openai:smollm2" for row in summary)
