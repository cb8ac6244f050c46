"""Retrying provider calls: exponential backoff with full jitter, honouring Retry-After.

Contract:

* :func:`classify` decides whether a failure is transient. Retried: HTTP 429
  (``rate_limit``), 408/409 and 5xx (``server_error``), timeouts
  (``timeout``) and connection failures (``connection``). Never retried: any
  other 4xx (a bad request stays bad), a 500 that names ``response_format``
  (llama-cpp-python's way of rejecting that option, which the native path
  answers by falling back) and every other exception. Providers are
  recognised by duck typing (a ``status_code`` on the exception or on its
  ``response``; exception class names of httpx/openai/anthropic), so no
  provider package is imported here.
* :func:`call_with_retry` makes at most ``policy.max_retries + 1`` attempts.
  Each attempt runs under the provider's :class:`~stochbox.agents.limiter.AdaptiveLimiter`
  (when given) and a per-attempt timeout of ``policy.attempt_timeout_s`` (if set); a
  rate limit is reported to the limiter so concurrency adapts down. Before
  each retry ``on_retry(attempt, delay_s, reason)`` is called (the agent emits
  the ``retry`` trace event there). The delay is the server's ``Retry-After``
  (``retry-after-ms`` or ``retry-after``, seconds or an HTTP date) when it
  sent one, else ``uniform(0, min(max_delay_s, base_delay_s * 2**(attempt-1)))``.
* It never sleeps past ``deadline`` (a ``time.monotonic()`` value): when the
  next attempt could not start before it, or retries are used up, it raises
  :class:`RetriesExhausted` carrying the last reason and error. A
  non-retryable error propagates unchanged, on the first attempt.
* The caller's own client must not retry as well (``max_retries=0`` for
  OpenAI clients, see :mod:`stochbox.agents.llm`), or attempts multiply.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from stochbox.agents.limiter import AdaptiveLimiter

T = TypeVar("T")
RetryReason = Literal["rate_limit", "server_error", "timeout", "connection"]

#: Exception class names (anywhere in the MRO) that mean a timed-out request.
_TIMEOUT_NAMES = frozenset({"TimeoutError", "APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout", "PoolTimeout", "WriteTimeout"})
#: ... and a connection that failed or broke before a response arrived.
_CONNECTION_NAMES = frozenset(
    {"ConnectionError", "APIConnectionError", "ConnectError", "RemoteProtocolError", "ReadError", "WriteError", "TransportError", "ServerDisconnectedError", "ClientConnectionError"}
)


class RetryPolicy(BaseModel):
    """How hard to try. ``max_retries=0`` turns retrying off (one attempt)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_retries: int = Field(default=6, ge=0, le=100)
    base_delay_s: float = Field(default=1.0, ge=0)
    max_delay_s: float = Field(default=60.0, ge=0)
    attempt_timeout_s: float | None = Field(default=None, gt=0)  # None: only the deadline bounds an attempt
    max_retry_after_s: float = Field(default=300.0, ge=0)  # a longer Retry-After gives up instead of waiting


class RetriesExhausted(Exception):
    """Every allowed attempt failed transiently (or the deadline left no room for another)."""

    def __init__(self, reason: RetryReason, attempts: int, last: BaseException | None, why: str) -> None:
        detail = f"{type(last).__name__}: {last}" if last is not None else reason
        super().__init__(f"gave up after {attempts} attempt(s) ({why}); last error: {detail}")
        self.reason, self.attempts, self.last = reason, attempts, last


def status_code(exc: BaseException) -> int | None:
    """The HTTP status an exception carries, if any."""
    for holder in (exc, getattr(exc, "response", None)):
        code = getattr(holder, "status_code", None) if holder is not None else None
        if isinstance(code, int):
            return code
    return None


def classify(exc: BaseException) -> RetryReason | None:
    """Why ``exc`` is worth retrying, or None when it is not."""
    code = status_code(exc)
    if code is not None:
        if code == 429:
            return "rate_limit"
        if code == 500 and "response_format" in str(exc):
            return None  # llama-cpp-python reports a rejected request option as 500: permanent, not transient
        if code in (408, 409) or 500 <= code < 600:
            return "server_error"
        return None
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _TIMEOUT_NAMES:
        return "timeout"
    if names & _CONNECTION_NAMES:
        return "connection"
    return None


def retry_after_s(exc: BaseException) -> float | None:
    """Seconds the server asked us to wait (``retry-after-ms``, then ``retry-after``), or None."""
    response = getattr(exc, "response", None)
    headers: Any = getattr(response, "headers", None)
    if headers is None:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is None:
                continue
            seconds = email.utils.mktime_tz(parsed) - time.time()
        if math.isnan(seconds):
            continue
        return max(0.0, seconds)
    return None


def backoff_s(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Full jitter: uniform over [0, min(max_delay_s, base_delay_s * 2**(attempt-1))]."""
    ceiling = min(policy.max_delay_s, policy.base_delay_s * 2 ** max(0, attempt - 1))
    return rng.uniform(0.0, ceiling)


_jitter = random.Random()  # timing only: never feeds a result, so it needs no run seed


async def call_with_retry(
    call: Callable[[], Awaitable[T]],
    *,
    policy: RetryPolicy,
    deadline: float,
    on_retry: Callable[[int, float, RetryReason, str], None] | None = None,
    limiter: AdaptiveLimiter | None = None,
    rng: random.Random | None = None,
) -> T:
    """``await call()`` until it succeeds, fails for good, or retries run out (see the module contract).

    ``on_retry(attempt, delay_s, reason, message)``: ``attempt`` is the number of the attempt that failed (1-based).
    A plain :class:`TimeoutError` when the *deadline* (not the per-attempt timeout) ends an attempt.
    """
    rng = rng or _jitter
    attempt = 0
    while True:
        attempt += 1
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("deadline passed")
        per_attempt = policy.attempt_timeout_s
        deadline_bound = per_attempt is None or remaining <= per_attempt
        budget = remaining if deadline_bound else per_attempt
        try:
            if limiter is None:
                async with asyncio.timeout(budget):
                    result = await call()
            else:
                async with limiter.slot():
                    async with asyncio.timeout(budget):  # waiting for a slot is not the provider's fault
                        result = await call()
        except Exception as exc:
            reason = classify(exc)
            if isinstance(exc, TimeoutError) and deadline_bound and deadline - time.monotonic() <= 0.01:
                raise  # the episode's time is up, not the provider's fault
            if reason is None:
                raise
            if reason == "rate_limit" and limiter is not None:
                limiter.on_rate_limit()
            if attempt > policy.max_retries:
                raise RetriesExhausted(reason, attempt, exc, f"{policy.max_retries} retries used") from exc
            asked = retry_after_s(exc)
            if asked is not None and asked > policy.max_retry_after_s:
                raise RetriesExhausted(reason, attempt, exc, f"server asked to wait {asked:g}s") from exc
            delay = asked if asked is not None else backoff_s(attempt, policy, rng)
            if time.monotonic() + delay >= deadline:
                raise RetriesExhausted(reason, attempt, exc, "no time left before the episode deadline") from exc
            if on_retry is not None:
                on_retry(attempt, delay, reason, f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(delay)
            continue
        if limiter is not None:
            limiter.on_success()
        return result
