"""The retry policy and the AIMD limiter on their own, against real client exceptions and a
simulated provider that rate-limits above a fixed concurrency."""

from __future__ import annotations

import asyncio
import random
import time

import httpx
import httpx2
import openai
import pytest

from stochbox.agents.limiter import AdaptiveLimiter, limiter_for, provider_key
from stochbox.agents.retry import (
    RetriesExhausted,
    RetryPolicy,
    backoff_s,
    call_with_retry,
    classify,
    retry_after_s,
)

FAST = RetryPolicy(max_retries=5, base_delay_s=0.01, max_delay_s=0.05)


def _status_error(code: int, headers: dict[str, str] | None = None) -> openai.APIStatusError:
    response = httpx2.Response(code, headers=headers or {}, request=httpx2.Request("POST", "http://127.0.0.1/v1/chat/completions"))
    cls = openai.RateLimitError if code == 429 else openai.APIStatusError
    return cls(f"status {code}", response=response, body=None)


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (_status_error(429), "rate_limit"),
        (_status_error(500), "server_error"),
        (_status_error(503), "server_error"),
        (_status_error(408), "server_error"),
        (_status_error(409), "server_error"),
        (_status_error(400), None),
        (openai.InternalServerError("Error code: 500 - response_format: unsupported type", response=httpx2.Response(500, request=httpx2.Request("POST", "http://x")), body=None), None),
        (_status_error(401), None),
        (_status_error(404), None),
        (_status_error(422), None),
        (openai.APITimeoutError(request=httpx2.Request("POST", "http://x")), "timeout"),
        (openai.APIConnectionError(request=httpx2.Request("POST", "http://x")), "connection"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectError("refused"), "connection"),
        (TimeoutError(), "timeout"),
        (ValueError("bad"), None),
    ],
)
def test_classify(exc, reason):
    assert classify(exc) == reason


def test_retry_after_headers():
    assert retry_after_s(_status_error(429, {"retry-after": "3"})) == 3.0
    assert retry_after_s(_status_error(429, {"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    dated = retry_after_s(_status_error(429, {"retry-after": "Wed, 21 Oct 2099 07:28:00 GMT"}))
    assert dated is not None and dated > 1e8
    assert retry_after_s(_status_error(429)) is None


def test_full_jitter_backoff_stays_under_the_exponential_ceiling():
    rng = random.Random(0)
    policy = RetryPolicy(base_delay_s=1.0, max_delay_s=8.0)
    for attempt in range(1, 8):
        draws = [backoff_s(attempt, policy, rng) for _ in range(200)]
        ceiling = min(8.0, 2 ** (attempt - 1))
        assert 0 <= min(draws) and max(draws) <= ceiling
        assert max(draws) > 0.8 * ceiling  # spread over the whole interval, not a fixed delay


async def test_transient_failures_are_retried_and_reported():
    failures = [_status_error(429, {"retry-after-ms": "10"}), _status_error(502), httpx.ConnectError("x")]
    seen = []

    async def call():
        if failures:
            raise failures.pop(0)
        return "ok"

    result = await call_with_retry(call, policy=FAST, deadline=time.monotonic() + 10, on_retry=lambda *a: seen.append(a))
    assert result == "ok"
    assert [(a, r) for a, _, r, _ in seen] == [(1, "rate_limit"), (2, "server_error"), (3, "connection")]
    assert seen[0][1] == pytest.approx(0.01)


async def test_retries_run_out_and_non_retryable_errors_pass_through():
    calls = 0

    async def always_500():
        nonlocal calls
        calls += 1
        raise _status_error(500)

    with pytest.raises(RetriesExhausted, match="gave up after 3 attempt"):
        await call_with_retry(always_500, policy=RetryPolicy(max_retries=2, base_delay_s=0.001), deadline=time.monotonic() + 10)
    assert calls == 3

    async def bad_request():
        nonlocal calls
        calls += 1
        raise _status_error(400)

    calls = 0
    with pytest.raises(openai.APIStatusError):
        await call_with_retry(bad_request, policy=FAST, deadline=time.monotonic() + 10)
    assert calls == 1


async def test_never_sleeps_past_the_deadline():
    async def rate_limited():
        raise _status_error(429, {"retry-after": "30"})

    t0 = time.monotonic()
    with pytest.raises(RetriesExhausted, match="deadline"):
        await call_with_retry(rate_limited, policy=FAST, deadline=time.monotonic() + 2)
    assert time.monotonic() - t0 < 1


async def test_per_attempt_timeout_is_retried_but_the_deadline_is_not():
    attempts = 0

    async def hangs_once():
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            await asyncio.sleep(10)
        return "ok"

    policy = RetryPolicy(base_delay_s=0.001, attempt_timeout_s=0.1)
    assert await call_with_retry(hangs_once, policy=policy, deadline=time.monotonic() + 5) == "ok"

    async def hangs():
        await asyncio.sleep(10)

    with pytest.raises(TimeoutError):
        await call_with_retry(hangs, policy=RetryPolicy(), deadline=time.monotonic() + 0.2)


async def test_limiter_caps_in_flight_calls_fifo():
    limiter = AdaptiveLimiter("p", 3)
    peak = in_flight = 0
    order = []

    async def one(i):
        nonlocal peak, in_flight
        async with limiter.slot():
            in_flight += 1
            peak = max(peak, in_flight)
            order.append(i)
            await asyncio.sleep(0.01)
            in_flight -= 1

    await asyncio.gather(*(one(i) for i in range(12)))
    assert peak == 3 and order == list(range(12)) and limiter.in_flight == 0


async def test_aimd_backs_off_under_rate_limits_and_recovers_when_they_stop():
    """A provider that answers 429 above 4 concurrent requests; 64 callers share one limiter."""
    limiter = AdaptiveLimiter("provider", 32, cooldown_s=0.02)
    capacity = {"n": 4}
    active = 0
    throttled = 0

    async def provider():
        nonlocal active, throttled
        active += 1
        try:
            if active > capacity["n"]:
                throttled += 1
                raise _status_error(429)
            await asyncio.sleep(0.005)
            return "ok"
        finally:
            active -= 1

    async def wave(n):
        policy = RetryPolicy(max_retries=50, base_delay_s=0.002, max_delay_s=0.02)
        return await asyncio.gather(*(call_with_retry(provider, policy=policy, deadline=time.monotonic() + 30, limiter=limiter) for _ in range(n)))

    assert await wave(400) == ["ok"] * 400
    assert limiter.decreases >= 1 and throttled >= 1
    assert limiter.limit < 16  # backed off towards the provider's capacity
    throttled_before = throttled
    capacity["n"] = 10_000  # the rate limits stop
    await wave(2000)
    assert throttled == throttled_before
    assert limiter.limit == 32  # additive increase brought it back to the cap


async def test_one_limiter_per_provider_per_loop():
    from langchain_openai import ChatOpenAI

    model = ChatOpenAI(model="stub", base_url="http://127.0.0.1:9/v1", api_key="not-needed")
    assert provider_key(model.bind(seed=1).bind_tools([])) == "ChatOpenAI:http://127.0.0.1:9/v1"
    assert limiter_for("a", 2) is limiter_for("a") and limiter_for("a") is not limiter_for("b")
