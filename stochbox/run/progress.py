"""The live progress display of ``stochbox run``: episodes, rate, ETA, tokens, errors.

Contract: :class:`RunProgress` is a context manager whose :meth:`~RunProgress.hook`
is a :data:`stochbox.run.runner.ProgressHook` (called once per stored episode,
from the run's event loop). :class:`ProgressStats` is what it shows, kept
whether or not the display is enabled (``disable=True`` for ``--quiet`` or a
non-terminal), so callers and tests can read it. Rate and ETA count only
episodes run by *this* process, so a resumed run does not report the
episodes stored before it as instantaneous progress. When a provider's
adaptive limiter (:mod:`stochbox.agents.limiter`) holds calls back after rate
limits, the display says so: that is where a rate-limited run's time goes.
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
)

from stochbox.agents.limiter import limiters
from stochbox.results import EpisodeRecord, EpisodeStatus


class ProgressStats(BaseModel):
    done: int = 0
    total: int = 0
    ran: int = 0  # by this process
    elapsed_s: float = 0.0
    tokens_in: int = 0
    tokens_out: int = 0
    errors: int = 0  # episodes stored as failed
    statuses: dict[str, int] = Field(default_factory=dict)
    throttled: str = ""  # e.g. "ChatOpenAI:http://...: 6 in flight, 40 waiting after 14 rate limits"

    @property
    def rate(self) -> float:
        """Episodes per second run by this process."""
        return self.ran / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        return (self.total - self.done) / self.rate if self.rate > 0 else None

    def line(self) -> str:
        eta = "?" if self.eta_s is None else _clock(self.eta_s)
        text = f"{self.rate:.1f} ep/s  ETA {eta}  tokens {_si(self.tokens_in)} in / {_si(self.tokens_out)} out  errors {self.errors}"
        not_ok = {k: v for k, v in sorted(self.statuses.items()) if k not in (EpisodeStatus.ok.value, EpisodeStatus.failed.value)}
        if not_ok:
            text += "  (" + ", ".join(f"{k} {v}" for k, v in not_ok.items()) + ")"
        if self.throttled:
            text += f"  [yellow]{self.throttled}[/]"
        return text


class RunProgress:
    def __init__(self, console: Console, *, disable: bool = False) -> None:
        self.stats = ProgressStats()
        self._started: float | None = None
        self._progress = Progress(
            TextColumn("episodes"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), TextColumn("{task.fields[line]}"),
            console=console, disable=disable,
        )
        self._task = self._progress.add_task("episodes", total=None, line="starting")

    def hook(self, record: EpisodeRecord, done: int, total: int) -> None:
        now = time.monotonic()
        if self._started is None:
            # the first episode's own duration is the best start time we have without a start hook
            self._started = now - record.duration_s
        s = self.stats
        s.done, s.total, s.ran = done, total, s.ran + 1
        s.elapsed_s = now - self._started
        s.tokens_in += record.tokens_in
        s.tokens_out += record.tokens_out
        s.statuses[record.status.value] = s.statuses.get(record.status.value, 0) + 1
        s.errors = s.statuses.get(EpisodeStatus.failed.value, 0)
        s.throttled = _throttled()
        self._progress.update(self._task, completed=done, total=total, line=s.line())

    def __enter__(self) -> RunProgress:
        self._progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.__exit__(*exc)


def _throttled() -> str:
    parts = [
        f"{lim.key}: {lim.in_flight} in flight, {lim.waiting} waiting after {lim.rate_limits} rate limits"
        for lim in (limiter.stats() for limiter in limiters())
        if lim.rate_limits and lim.waiting
    ]
    return "; ".join(parts)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def _si(n: int) -> str:
    for unit, size in (("M", 1_000_000), ("k", 1_000)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return str(n)
