"""Hostile provider replies through the real OpenAI clients and a real local HTTP server (issue 17).

A seeded generator builds bodies real providers do send (lone surrogates from
a multi-byte character cut by ``max_tokens``, truncated JSON, huge replies,
control characters, NaN/inf, nested JSON, wrong types in tool-call
arguments, reasoning with invalid text) and each run, with both
``--openai-client stochbox`` and ``langchain``, must finish with every
episode stored; every sample stored is a value its reply states (the
independent reading in ``tests/stated_values.py``); no stored or traced
string is invalid Unicode; replaced code points are counted on the event.
"""

from __future__ import annotations

import json
import random

import pytest
from fuzz_count import count
from stated_values import stated_values

from stochbox.run.config import RunConfig
from stochbox.run.runner import start_run
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace

CLIENTS = pytest.mark.parametrize("client", ["stochbox", "langchain"])
#: Hostile bodies per run (each run: native and tool mode, both clients).
BODIES = 40
SEED = 17


def _cut(text: str, rng: random.Random) -> str:
    return text[: rng.randrange(1, len(text))]


def hostile_replies(rng: random.Random, n: int) -> list[dict]:
    """``n`` stub faults (see openai_stub.py), one kind after another, parameters drawn from ``rng``."""
    x = round(rng.random(), 6)
    completion = json.dumps({"choices": [{"index": 0, "message": {"role": "assistant", "content": f"ANSWER: {x}"}, "finish_reason": "stop"}]})
    kinds = [
        lambda: {"content": f"ANSWER: {chr(rng.randrange(0xD800, 0xE000))} {x}"},  # a lone surrogate before the number
        lambda: {"content": f"ANSWER: {x}{chr(rng.randrange(0xD800, 0xE000))}"},  # ... glued after it
        lambda: {"content": "".join(rng.choice(["\ud83c", "\udf89", "a", " "]) for _ in range(40))},
        lambda: {"content": _cut(json.dumps({"answer": x}), rng)},  # truncated JSON content
        lambda: {"raw_body": _cut(completion, rng)},  # truncated JSON body
        lambda: {"raw_body": completion.replace(f"ANSWER: {x}", f"ANSWER: \\\\ud800{x}")},  # an escaped escape
        lambda: {"raw_body": completion.replace(f"ANSWER: {x}", "ANSWER: \\ud800 \\udfff")},
        lambda: {"content": "word " * rng.randrange(50_000, 200_000) + f"ANSWER: {x}"},  # huge replies
        lambda: {"content": "[" * rng.randrange(1000, 100_000)},
        lambda: {"content": "".join(chr(rng.randrange(0, 32)) for _ in range(30)) + f" ANSWER: {x}"},  # control characters
        lambda: {"content": rng.choice(["NaN", "Infinity", "-Infinity", '{"answer": NaN}', '{"answer": 1e999}', "ANSWER: 1e309"])},
        lambda: {"raw_body": completion.replace(f'"ANSWER: {x}"', rng.choice(["NaN", "Infinity", "5", "null", "[1, 2]", '{"a": 1}']))},
        lambda: {"content": json.dumps({"answer": {"answer": {"answer": x}}})},  # nested JSON
        lambda: {"content": '{"answer": ' * rng.randrange(100, 3000) + str(x)},
        lambda: {"content": rng.choice(["ANSWER: 7/2", "ANSWER: ３．５", "ANSWER: [1, 2]", "ANSWER: 50%", "ANSWER: 3-5", "ANSWER: 10²"])},
        lambda: {"content": json.dumps({"answer": rng.choice([True, None, [x, x], "x", {"v": x}, str(x)])})},  # wrong types
        lambda: {"reasoning": "thinking \udc80 hard", "content": f"ANSWER: {x}"},
        lambda: {"raw_body": json.dumps({"choices": rng.choice([{"a": 1}, [1], [{"message": [1]}], [{"message": {"content": 5}}]])})},
        lambda: {"tool_args": rng.choice(['{"code": "print(1)"', "[1, 2]", "3", "null", '{"code": 5}', '{"code": ["x"]}', {"code": "print(1)"}, 7])},
        lambda: {"submit_args": rng.choice(['{"answer": NaN}', '{"answer": [0.1, 0.2]}', '{"answer": "7/2"}', '{"answer": "\\ud800 0.25"}',
                                            '{"answer": {"answer": 0.5}}', '{"answer": true}', '{"answer": "３．５"}', '"0.5"', "[0.5]"])},
    ]
    return [kinds[i % len(kinds)]() for i in range(n)]


def _replies_by_episode(events) -> dict[str, str]:
    """Everything each episode's model wrote (content, tool-call arguments), as one text."""
    out: dict[str, list[str]] = {}
    for e in events:
        if e.event == "model_response":
            p = e.payload
            parts = [p["content"] if isinstance(p["content"], str) else json.dumps(p["content"], ensure_ascii=False)]
            parts += [json.dumps(tc.get("args"), ensure_ascii=False) for tc in p.get("tool_calls") or []]
            parts += [str(tc.get("args")) for tc in p.get("invalid_tool_calls") or []]
            out.setdefault(e.episode_id, []).extend(parts)
    return {k: " | ".join(v) for k, v in out.items()}


@CLIENTS
@pytest.mark.parametrize("mode", ["native", "tool"])
def test_hostile_replies_never_end_a_run_and_never_become_unstated_samples(stub, unit_pack, sandbox, tmp_path, client, mode):
    rng = random.Random(f"{SEED}-{client}-{mode}")
    faults = hostile_replies(rng, BODIES)
    stub.inject(*faults)
    cfg = RunConfig.model_validate(dict(
        models=["openai:stub"], base_url=stub.url, packs=[str(unit_pack)], n=BODIES, reference_n=200, seed=5, modes=[mode],
        concurrency=1, openai_client=client, max_model_calls=3, max_tool_calls=2, max_retries=0,
    ))
    outcome = start_run(cfg, tmp_path / "run", sandbox=sandbox)
    count(f"e2e: hostile provider bodies, {mode} mode, --openai-client {client}", len(faults))
    assert outcome.status == "complete" and outcome.done == outcome.total == BODIES
    assert outcome.internal_errors == 0, outcome

    for line in (tmp_path / "run" / "trace.jsonl").read_bytes().decode("utf-8").splitlines():  # strict UTF-8
        json.dumps(json.loads(line), ensure_ascii=False).encode("utf-8")  # no escaped lone surrogate either
    events = list(read_trace(tmp_path / "run"))
    replies = _replies_by_episode(events)
    with RunStore(tmp_path / "run") as store:
        records = list(store.records())
    assert len(records) == BODIES
    for r in records:
        r.model_dump_json().encode("utf-8")  # strict: no invalid string stored
        for sample in r.samples:
            assert sample in stated_values(replies.get(r.episode_id, "")), (sample, r.raw_answer, r.reason)
    replaced = [e.payload["unicode_replaced"] for e in events if e.event == "model_response" and "unicode_replaced" in e.payload]
    assert replaced and all(n >= 1 for n in replaced)  # the surrogate bodies were repaired and counted
    statuses = {r.status.value for r in records}
    assert "ok" in statuses and statuses <= {"ok", "parse_error", "failed", "limit", "partial"}
