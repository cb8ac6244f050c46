"""Provider and sandbox faults through the real OpenAI clients against a real local HTTP server.

Each fault is survived, retried (a ``retry`` trace event) or recorded as a
failed episode with its reason; the run always finishes. The default client
(stochbox's aiohttp one) takes every fault; the most telling ones run through
langchain-openai (``--openai-client langchain``) too.
"""

from __future__ import annotations

from collections import Counter

import pytest

from stochbox.run.config import RunConfig
from stochbox.run.runinfo import read_run_info
from stochbox.run.runner import start_run
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace


#: Both clients behind openai: models, for the tests that matter most for each.
CLIENTS = pytest.mark.parametrize("client", ["stochbox", "langchain"])


def _run(stub, pack, sandbox, tmp_path, client="stochbox", **kw):
    base = dict(models=["openai:stub"], base_url=stub.url, packs=[str(pack)], n=4, reference_n=200, concurrency=1, seed=5,
                openai_client=client)
    cfg = RunConfig.model_validate({**base, **kw})
    outcome = start_run(cfg, tmp_path / "run", sandbox=sandbox)
    assert outcome.status == "complete" and outcome.done == outcome.total
    with RunStore(tmp_path / "run") as store:
        records = list(store.records())
    events = list(read_trace(tmp_path / "run"))
    return records, events


def _retries(events):
    return [e.payload for e in events if e.event == "retry"]


@pytest.mark.parametrize(
    ("headers", "expected_delay", "client"),
    [({"Retry-After": "1"}, 1.0, "stochbox"), ({"retry-after-ms": "150"}, 0.15, "stochbox"), ({"retry-after-ms": "150"}, 0.15, "langchain")],
    ids=["retry-after-seconds", "retry-after-ms", "retry-after-ms-langchain"],
)
def test_429_with_retry_after_waits_as_asked(stub, unit_pack, sandbox, tmp_path, headers, expected_delay, client):
    stub.inject({"status": 429, "headers": headers})
    records, events = _run(stub, unit_pack, sandbox, tmp_path, client)
    assert [r.status.value for r in records] == ["ok"] * 4
    (retry,) = _retries(events)
    assert retry["reason"] == "rate_limit" and retry["delay_s"] == pytest.approx(expected_delay) and retry["attempt"] == 1
    assert stub.requests == 5  # one retry, not the client's own retries on top


def test_429_without_retry_after_and_500_back_off_with_jitter(stub, unit_pack, sandbox, tmp_path):
    stub.inject({"status": 429}, {"status": 500}, {"status": 503})
    records, events = _run(stub, unit_pack, sandbox, tmp_path)
    assert all(r.status.value == "ok" for r in records)
    retries = _retries(events)
    assert [(r["reason"], r["attempt"]) for r in retries] == [("rate_limit", 1), ("server_error", 2), ("server_error", 3)]
    for r in retries:  # full jitter below base * 2**(attempt-1) (base 1 s)
        assert 0 <= r["delay_s"] <= 2 ** (r["attempt"] - 1)
    assert stub.requests == 4 + 3


def test_exhausted_retries_fail_the_episode_with_its_reason_and_the_run_goes_on(stub, unit_pack, sandbox, tmp_path):
    stub.inject(*[{"status": 500}] * 3)
    records, events = _run(stub, unit_pack, sandbox, tmp_path, max_retries=2)
    statuses = Counter(r.status.value for r in records)
    assert statuses == {"failed": 1, "ok": 3}
    (failed,) = [r for r in records if r.status.value == "failed"]
    assert "gave up after 3 attempt(s)" in failed.reason and "500" in failed.reason
    assert len(_retries(events)) == 2


@CLIENTS
def test_other_4xx_is_not_retried(stub, unit_pack, sandbox, tmp_path, client):
    stub.inject({"status": 403})
    records, events = _run(stub, unit_pack, sandbox, tmp_path, client)
    assert Counter(r.status.value for r in records) == {"failed": 1, "ok": 3}
    assert "403" in next(r.reason for r in records if r.status.value == "failed")
    assert _retries(events) == [] and stub.requests == 4


@CLIENTS
def test_request_timeout_and_dropped_connection_are_retried(stub, unit_pack, sandbox, tmp_path, client):
    stub.inject({"hang_s": 5}, {"drop": True})
    records, events = _run(stub, unit_pack, sandbox, tmp_path, client, request_timeout_s=0.5)
    assert all(r.status.value == "ok" for r in records)
    assert [r["reason"] for r in _retries(events)] == ["timeout", "connection"]


@CLIENTS
def test_empty_responses_are_recorded_with_a_reason(stub, unit_pack, sandbox, tmp_path, client):
    stub.inject({"empty": True}, {"no_choices": True})
    records, events = _run(stub, unit_pack, sandbox, tmp_path, client)
    bad = [r for r in records if r.status.value != "ok"]
    assert len(bad) == 2 and all(r.status.value in ("parse_error", "failed") and r.reason for r in bad)
    assert sum(r.status.value == "ok" for r in records) == 2
    assert _retries(events) == [] and stub.requests == 4  # a reply without a usable answer is not retried


@CLIENTS
def test_malformed_tool_call_json_is_survived(stub, unit_pack, sandbox, tmp_path, client):
    stub.inject({"bad_tool_json": True})
    records, events = _run(stub, unit_pack, sandbox, tmp_path, client, modes=["tool"])
    assert len(records) == 4 and all(r.reason or r.status.value == "ok" for r in records)
    responses = [e.payload for e in events if e.event == "model_response"]
    assert any(p["invalid_tool_calls"] for p in responses)  # the client saw the broken arguments
    assert sum(r.status.value == "ok" for r in records) >= 3


@CLIENTS
def test_a_model_that_never_stops_calling_tools_hits_a_limit(unit_pack, sandbox, tmp_path, client):
    from stochbox.testing.openai_stub import StubServer

    with StubServer(always_tool=True) as stub:
        records, _ = _run(stub, unit_pack, sandbox, tmp_path, client, modes=["tool"], n=2, max_model_calls=4, max_tool_calls=3)
    assert [r.status.value for r in records] == ["limit", "limit"]
    assert all(r.reason in ("max_model_calls", "max_tool_calls") for r in records)
    assert all(r.n_model_calls <= 4 for r in records)


@CLIENTS
def test_two_runs_in_one_process_against_the_same_server(stub, unit_pack, sandbox, tmp_path, client):
    """Each run has its own connection pool: a pool cached across runs holds connections of a closed event loop."""
    for name in ("first", "second"):
        cfg = RunConfig.model_validate(dict(models=["openai:stub"], base_url=stub.url, packs=[str(unit_pack)], n=6, reference_n=200,
                                            concurrency=3, openai_client=client))
        outcome = start_run(cfg, tmp_path / name, sandbox=sandbox)
        assert outcome.statuses == {"ok": 6}, (name, outcome.statuses)
        (model,) = read_run_info(tmp_path / name).models  # run.json says which client ran
        assert model["client"] == {"stochbox": "stochbox", "langchain": "langchain-openai"}[client]
