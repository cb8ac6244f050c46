"""What a run's conditions put on the wire, checked at a real HTTP server (the stub records every
request body): the prompt templates' text as the system message, no ``response_format`` with
``--structured-output off``, ``--model-option`` fields in the body; the provider's reasoning text
in the trace and never in the samples; a provider refusing an option stops the run with one error
line instead of failing (or retrying) every episode. Both OpenAI clients."""

from __future__ import annotations

import json

import pytest

from stochbox.testing.cli import run_cli as _cli
from stochbox.run.runinfo import read_run_info
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace

from stochbox.testing.openai_stub import StubServer, value_for

CLIENTS = ["stochbox", "langchain"]
REASONING = "The user wants a uniform draw. 0.999 would be too obvious; I will answer with the JSON object."
SYSTEM = "You are a careful random process (stochbox test template). {answer_instructions}"


def _run_args(stub: StubServer, pack, out, client: str, backend: str, *extra: str) -> tuple[str, ...]:
    return ("run", "--model", "openai:stub", "--base-url", stub.url, "--openai-client", client, "--pack", str(pack),
            "--n", "3", "--reference-n", "100", "--concurrency", "1", "--sandbox", backend, "--out", str(out), "-q", *extra)


@pytest.mark.parametrize("client", CLIENTS)
def test_templates_decoding_and_options_arrive_in_the_request_body(client, unit_pack, tmp_path, capsys, sandbox_backend):
    prompts = tmp_path / "careful.yaml"
    prompts.write_text(f"name: careful\nnative_system: {json.dumps(SYSTEM)}\nuser: 'Task: {{prompt}}'\n")
    out = tmp_path / "run"
    with StubServer(reasoning=REASONING) as stub:
        code, _, err = _cli(
            capsys, *_run_args(stub, unit_pack, out, client, sandbox_backend, "--prompts", str(prompts),
                               "--structured-output", "off", "--model-option", "reasoning_effort=high",
                               "--model-option", "top_p=0.9"),
        )
        bodies = list(stub.bodies)
    assert code == 0, err
    assert len(bodies) == 3
    for body in bodies:
        system, user = body["messages"]
        assert system == {"role": "system", "content": SYSTEM.format(
            answer_instructions="Your reply must end with a line `ANSWER: <value>` where the value is one real number.")}
        assert user["role"] == "user" and user["content"] == "Task: Draw one number uniformly at random from [0, 1)."
        assert "response_format" not in body
        assert body["reasoning_effort"] == "high" and body["top_p"] == 0.9

    # run.json: the templates' full text, the decoding choice and the options
    config = read_run_info(out).config
    assert config.prompts.native_system == SYSTEM and config.prompts.name == "careful"
    assert config.structured_output == "off" and config.model_options == {"reasoning_effort": "high", "top_p": 0.9}

    # the reasoning is in the trace, beside the content, and nowhere in the samples
    responses = [e.payload for e in read_trace(out) if e.event == "model_response"]
    assert [r["reasoning"] for r in responses] == [REASONING] * 3
    with RunStore(out) as store:
        records = sorted(store.records(), key=lambda r: r.index)
    assert [r.status.value for r in records] == ["ok"] * 3
    assert all(0.999 not in r.samples and REASONING not in (r.raw_answer or "") for r in records)
    assert [r.samples for r in records] == [[value_for(b["seed"])] for b in sorted(bodies, key=lambda b: _index(out, b))]

    # trace (transcript) and export show it; report states the condition beside the preset
    code, text, _ = _cli(capsys, "trace", str(out), "--episode", records[0].episode_id)
    assert code == 0 and "model reasoning" in text and "0.999 would be too obvious" in text
    code, _, err = _cli(capsys, "view", str(out), "--html", str(tmp_path / "view.html"))
    assert code == 0, err
    html = (tmp_path / "view.html").read_text()
    assert '"reasoning":' in html and "0.999 would be too obvious" in html and "p.reasoning" in html
    code, _, err = _cli(capsys, "export", str(out), "--format", "csv", "--out", str(tmp_path / "export"))
    assert code == 0, err
    import csv

    with open(tmp_path / "export" / "events.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["event"] == "model_response"]
    assert [r["reasoning"] for r in rows] == [REASONING] * 3
    code, text, _ = _cli(capsys, "report", str(out))
    assert "structured output off" in text and "prompts careful (" in text and 'reasoning_effort="high"' in text


def _index(run_dir, body) -> int:
    """Episode index of a request (bodies arrive in episode order at concurrency 1; sorted by seed to be sure)."""
    with RunStore(run_dir) as store:
        by_seed = {_model_seed(r.seed): r.index for r in store.records()}
    return by_seed[body["seed"]]


def _model_seed(episode_seed: int) -> int:
    from stochbox.seeding import derive_seed

    return derive_seed(episode_seed, "model") & 0x7FFFFFFF


@pytest.mark.parametrize("client", CLIENTS)
def test_structured_output_auto_sends_the_schema(client, unit_pack, tmp_path, capsys, sandbox_backend):
    with StubServer() as stub:
        code, _, err = _cli(capsys, *_run_args(stub, unit_pack, tmp_path / "run", client, sandbox_backend))
        bodies = list(stub.bodies)
    assert code == 0, err
    assert all(b["response_format"]["type"] == "json_schema" for b in bodies) and len(bodies) == 3
    assert all("top_p" not in b and "reasoning_effort" not in b for b in bodies)


@pytest.mark.parametrize("client", CLIENTS)
def test_an_option_the_provider_rejects_is_one_error_not_a_retry_loop(client, unit_pack, tmp_path, capsys, sandbox_backend):
    out = tmp_path / "run"
    with StubServer(reject_fields={"min_p"}) as stub:
        code, _, err = _cli(capsys, *_run_args(stub, unit_pack, out, client, sandbox_backend, "--model-option", "min_p=0.05"))
        requests = stub.requests
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert code == 2 and len(lines) == 1, err
    assert lines[0].startswith("error: the provider rejected --model-option min_p") and "Unrecognized request argument" in lines[0]
    assert requests == 1  # not retried, not re-sent without the schema, no further episode
    events = list(read_trace(out))
    assert [e.payload["status"] for e in events if e.event == "run_end"] == ["failed"]
    assert not [e for e in events if e.event == "retry"]


def test_model_options_go_into_the_lean_clients_body_unchanged():
    from stochbox.agents.openai_http import OpenAICompatChatModel

    model = OpenAICompatChatModel(model="m", base_url="http://127.0.0.1:9/v1")
    bound = model.bind(seed=1).bind(top_p=0.9, logit_bias={"50256": -100})
    body = model.request_body([], **bound.kwargs)
    assert body["top_p"] == 0.9 and body["logit_bias"] == {"50256": -100} and body["seed"] == 1
