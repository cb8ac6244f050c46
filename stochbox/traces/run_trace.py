"""A run folder read back for auditing: trace events grouped by episode, with their stored records.

Contract: :func:`load_run_trace` reads ``trace.jsonl`` (required), ``run.json``
and ``run.sqlite`` (both optional, so a crashed or copied-out trace can still
be audited) without writing anything. Episodes keep the order in which they
started in the trace; each episode's events are in step order. Events of a
run that was resumed keep their original steps (the writer continues the
numbering), so ``(episode_id, step)`` still names one event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stochbox.errors import RunStoreError
from stochbox.results import EpisodeRecord
from stochbox.run.runinfo import RUN_FILE, RunInfo, read_run_info
from stochbox.run.store import STORE_FILE, RunStore
from stochbox.run.trace import TRACE_FILE, TraceEvent, read_trace


def content_text(content: Any) -> str:
    """The text of a recorded message's ``content``: a string, or LangChain content blocks (their ``text`` parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        return "".join(b.get("text", "") if isinstance(b, dict) else str(b) for b in content)
    return "" if content is None else str(content)


@dataclass
class EpisodeTrace:
    """One episode's events (step order) and its stored record (None if it never finished)."""

    episode_id: str
    events: list[TraceEvent] = field(default_factory=list)
    record: EpisodeRecord | None = None
    _by_name: dict[str, list[TraceEvent]] | None = field(default=None, repr=False, compare=False)

    @property
    def start(self) -> dict[str, Any]:
        found = self.of("episode_start")
        return found[0].payload if found else {}

    def _meta(self, key: str) -> Any:
        if self.record is not None and hasattr(self.record, key):
            value = getattr(self.record, key)
            return getattr(value, "value", value)
        return self.start.get(key)

    @property
    def scenario(self) -> str:
        return str(self._meta("scenario") or "?")

    @property
    def mode(self) -> str:
        return str(self._meta("mode") or "?")

    @property
    def model(self) -> str:
        return str(self._meta("model") or "?")

    @property
    def condition(self) -> str | None:
        """The episode's named condition (stochbox.conditions); None in a run without conditions."""
        return self._meta("condition")

    @property
    def index(self) -> int | None:
        return self._meta("index")

    @property
    def seed(self) -> int | None:
        return self._meta("seed")

    @property
    def status(self) -> str | None:
        if self.record is not None:
            return self.record.status.value
        end = self.last("episode_end")
        return end.payload.get("status") if end is not None else None

    def of(self, *names: str) -> list[TraceEvent]:
        """Events with these names, in step order (indexed once the events are complete)."""
        if self._by_name is None:
            index: dict[str, list[TraceEvent]] = {}
            for ev in self.events:
                index.setdefault(ev.event, []).append(ev)
            self._by_name = index
        if len(names) == 1:
            return list(self._by_name.get(names[0], ()))
        return [ev for ev in self.events if ev.event in names]

    def last(self, name: str) -> TraceEvent | None:
        found = self.of(name)
        return found[-1] if found else None

    @property
    def samples(self) -> list[Any]:
        """Valid samples: the stored record's, else the last ``sample_submitted`` event's."""
        if self.record is not None:
            return list(self.record.samples)
        sub = self.last("sample_submitted")
        return list(sub.payload.get("samples") or []) if sub is not None else []


@dataclass
class RunTrace:
    run_dir: Path
    info: RunInfo | None
    run_events: list[TraceEvent]  # events without an episode (run_start, run_end)
    episodes: dict[str, EpisodeTrace]

    @property
    def run_id(self) -> str | None:
        if self.info is not None:
            return self.info.run_id
        return self.run_events[0].run_id if self.run_events else None

    def episode(self, episode_id: str) -> EpisodeTrace:
        try:
            return self.episodes[episode_id]
        except KeyError:
            known = ", ".join(list(self.episodes)[:5])
            raise RunStoreError(
                f"episode '{episode_id}' is not in {self.run_dir / TRACE_FILE}",
                hint=f"episode ids look like: {known}" if known else "the trace has no episodes",
            ) from None

    def n_events(self) -> int:
        return len(self.run_events) + sum(len(e.events) for e in self.episodes.values())


def load_run_trace(run_dir: Path | str) -> RunTrace:
    """Read a run folder; RunStoreError when it has no trace."""
    run_dir = Path(run_dir).expanduser()
    if not (run_dir / TRACE_FILE).is_file():
        raise RunStoreError(f"{run_dir / TRACE_FILE} not found", hint="give a folder made by 'stochbox run --out'")
    info = read_run_info(run_dir) if (run_dir / RUN_FILE).is_file() else None
    run_events: list[TraceEvent] = []
    episodes: dict[str, EpisodeTrace] = {}
    for ev in read_trace(run_dir):
        if ev.episode_id is None:
            run_events.append(ev)
        else:
            episodes.setdefault(ev.episode_id, EpisodeTrace(ev.episode_id)).events.append(ev)
    for ep in episodes.values():
        ep.events.sort(key=lambda e: e.step if e.step is not None else -1)
        ep._by_name = None
    if (run_dir / STORE_FILE).is_file():
        with RunStore(run_dir) as store:
            for rec in store.records():
                episodes.setdefault(rec.episode_id, EpisodeTrace(rec.episode_id)).record = rec
    return RunTrace(run_dir=run_dir, info=info, run_events=run_events, episodes=episodes)
