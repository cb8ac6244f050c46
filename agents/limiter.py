"""Per-provider concurrency: a connection cap and an AIMD adaptive limit.

Contract:

* :class:`AdaptiveLimiter` admits at most ``limit`` calls at once, FIFO.
  ``limit`` starts at ``max_limit`` (the provider's connection cap; ``None``
  means only the run's ``--concurrency`` bounds it) and adapts like TCP
  congestion control: :meth:`~AdaptiveLimiter.on_rate_limit` multiplies it by
  ``decrease`` (applied to the calls actually in flight, at most once per
  ``cooldown_s`` so one burst of 429s counts once), and each
  :meth:`~AdaptiveLimiter.on_success` adds ``1/limit`` (about +1 per round of
  calls, and only while the limit is what holds calls back) until it is
  back at ``max_limit``. It never goes below ``min_limit``.
* :func:`limiter_for` returns the one limiter for a provider key in the
  running event loop, so every episode calling the same provider shares it;
  the first caller's ``max_limit`` wins.
* Limiters only change *when* calls happen, never what they return, so they
  cannot change results.
"""

from __future__ import annotations

import asyncio
import math
import time
import weakref
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from pydantic import BaseModel

#: Upper bound on the adaptive limit of a provider without a connection cap.
UNCAPPED = 4096


class LimiterStats(BaseModel):
    """A snapshot for progress displays and benchmarks."""

    key: str
    limit: float
    in_flight: int
    waiting: int
    rate_limits: int
    decreases: int


class AdaptiveLimiter:
    def __init__(
        self, key: str, max_limit: int | None = None, *, min_limit: int = 1, decrease: float = 0.5, cooldown_s: float = 1.0
    ) -> None:
        self.key = key
        self.max_limit = float(max_limit or UNCAPPED)
        self.min_limit = float(min_limit)
        self.limit = self.max_limit
        self.decrease = decrease
        self.cooldown_s = cooldown_s
        self.in_flight = 0
        self.rate_limits = 0
        self.decreases = 0
        self._last_decrease = -math.inf
        self._waiters: deque[asyncio.Future[None]] = deque()

    def _room(self) -> bool:
        return self.in_flight < max(self.min_limit, math.floor(self.limit))

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the ``limit`` slots for the duration of the block."""
        if self._room() and not self._waiters:
            self.in_flight += 1  # fast path: no await, no allocation
        else:
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                await waiter  # _wake counts us in before resolving
            except BaseException:
                if waiter.done() and not waiter.cancelled():
                    self._release()  # we were admitted but will not run: give the slot back
                else:
                    self._waiters.remove(waiter)
                raise
        try:
            yield
        finally:
            self._release()

    def _release(self) -> None:
        self.in_flight -= 1
        self._wake()

    def _wake(self) -> None:
        while self._waiters and self._room():
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def on_rate_limit(self) -> None:
        """The provider said "too many requests": halve (``decrease``) the limit, once per cooldown."""
        self.rate_limits += 1
        now = time.monotonic()
        if now - self._last_decrease < self.cooldown_s:
            return
        self._last_decrease = now
        self.decreases += 1
        self.limit = max(self.min_limit, min(self.limit, self.in_flight) * self.decrease)

    def on_success(self) -> None:
        """A call went through: grow the limit by about one per round of calls, while it is what holds calls back."""
        binding = bool(self._waiters) or self.in_flight + 1 >= math.floor(self.limit)
        if binding and self.limit < self.max_limit:  # an unused limit must not grow (TCP's application-limited rule)
            self.limit = min(self.max_limit, self.limit + 1.0 / self.limit)
            self._wake()

    def stats(self) -> LimiterStats:
        return LimiterStats(
            key=self.key,
            limit=round(self.limit, 3),
            in_flight=self.in_flight,
            waiting=len(self._waiters),
            rate_limits=self.rate_limits,
            decreases=self.decreases,
        )


_registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, AdaptiveLimiter]] = weakref.WeakKeyDictionary()


def limiter_for(key: str, max_limit: int | None = None) -> AdaptiveLimiter:
    """The shared limiter for provider ``key`` in the running event loop (created on first use)."""
    loop = asyncio.get_running_loop()
    limiters = _registry.setdefault(loop, {})
    limiter = limiters.get(key)
    if limiter is None:
        limiter = limiters[key] = AdaptiveLimiter(key, max_limit)
    return limiter


def limiters() -> list[AdaptiveLimiter]:
    """Limiters created in the running event loop (for progress displays)."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return []
    return list(_registry.get(loop, {}).values())


def provider_key(model: object) -> str:
    """Which provider a (possibly ``.bind``-wrapped) chat model talks to: its class and endpoint."""
    fields = getattr(model, "__dict__", {})
    while "bound" in fields:  # RunnableBinding from .bind(...) / .bind_tools(...)
        model = fields["bound"]
        fields = getattr(model, "__dict__", {})
    # read the instance dict: pydantic's attribute fallback is slow, and this runs once per model call
    endpoint = next((fields[a] for a in ("openai_api_base", "base_url", "anthropic_api_url") if fields.get(a)), "")
    return f"{type(model).__name__}:{endpoint}" if endpoint else type(model).__name__
