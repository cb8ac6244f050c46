"""Structured trace events (``trace.jsonl``), written through structlog.

Contract:

* Every line of ``trace.jsonl`` is one JSON object that validates as
  :class:`TraceEvent` (``schema_version``, ``ts``, ``run_id``, ``event``,
  optional ``episode_id``/``step``, and event-specific fields at top level).
* ``event`` names are stable; new fields may be added, none renamed or removed
  without bumping :data:`SCHEMA_VERSION`.
* Within an episode, ``step`` increases by one per event, starting at 0, so
  ``(run_id, episode_id, step)`` identifies an event.
* :class:`TraceWriter` is thread-safe, appends, and flushes every line, so a
  crash loses at most the line being written; readers skip a torn last line.
* Lines are compact JSON (orjson, structlog's fast path: no spaces after
  separators), UTF-8 unescaped. Values that are not JSON are converted
  (models dumped, arrays as lists, sets sorted, paths as strings, anything
  else by ``repr``); non-finite floats are written as ``null`` (JSON has no
  NaN). A line orjson refuses (an integer beyond 64 bits, a lone surrogate)
  is written by the standard library's encoder, ASCII-escaped, so no event
  is lost to serialization. No line holds an invalid string: a lone
  surrogate that reached the writer (outside text is made valid where it
  enters, :mod:`stochbox.unicode_text`) is replaced by U+FFFD here and
  counted in the event's ``unicode_replaced``.

Event names used by stochbox (payload fields in brackets):

``run_start`` [config, versions, sandbox, unconfined, resumed, episodes_total,
episodes_todo], ``run_end`` [status (complete|interrupted|failed), episodes, ran, internal_errors],
``episode_start`` [scenario, mode, model, index, seed, condition],
``episode_end`` [status, n_samples, reason],
``model_request`` [messages, tools], ``model_response`` [content, tool_calls,
latency_s, usage, reasoning, unicode_replaced], ``parse`` [ok, value, reason],
``tool_call`` [tool, args, call_id], ``tool_result`` [tool, call_id, ok, output, error],
``sandbox_exec`` [code, seed, stdout, stderr, exit_code, timed_out, duration_s,
truncated, killed_reason, sandbox_error, backend, unicode_replaced], ``sample_submitted``
[samples], ``limit_hit`` [limit, value], ``error`` [where, message; ``where: internal``
adds exception, traceback],
``retry`` [where, attempt, delay_s, reason].
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import structlog
from pydantic import BaseModel, ConfigDict, Field

from stochbox.unicode_text import valid_unicode_data

SCHEMA_VERSION = 1
TRACE_FILE = "trace.jsonl"

EVENT_NAMES = frozenset(
    {
        "run_start",
        "run_end",
        "episode_start",
        "episode_end",
        "model_request",
        "model_response",
        "parse",
        "tool_call",
        "tool_result",
        "sandbox_exec",
        "sample_submitted",
        "limit_hit",
        "error",
        "retry",
    }
)


class TraceEvent(BaseModel):
    """One line of ``trace.jsonl``. Event-specific fields are kept as extras."""

    model_config = ConfigDict(extra="allow")

    schema_version: int = SCHEMA_VERSION
    ts: str
    run_id: str
    event: str
    episode_id: str | None = None
    step: int | None = Field(default=None, ge=0)

    @property
    def payload(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def _timestamp(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.setdefault("ts", datetime.now(timezone.utc).isoformat(timespec="microseconds"))
    return event_dict


def _schema(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    event_dict.setdefault("schema_version", SCHEMA_VERSION)
    return event_dict


class TraceWriter:
    """Appends events for one run to ``<run_dir>/trace.jsonl``."""

    def __init__(self, run_dir: Path | str, run_id: str) -> None:
        self.path = Path(run_dir) / TRACE_FILE
        self.run_id = run_id
        self._lock = threading.Lock()
        self._steps: dict[str | None, int] = {}
        self._file = open(self.path, "ab")
        # structlog's fast path: bytes from orjson straight to a BytesLogger (which writes and
        # flushes each line). bind() once: the lazy proxy wrap_logger returns would rebuild the
        # bound logger on every event.
        self._log = structlog.wrap_logger(
            structlog.BytesLogger(self._file),
            processors=[_timestamp, _schema, structlog.processors.JSONRenderer(serializer=_dumps)],
            context_class=dict,
        ).bind()

    def seed_steps(self, episode_id: str, next_step: int) -> None:
        """Continue an episode's step numbering (used when resuming or replaying)."""
        with self._lock:
            self._steps[episode_id] = next_step

    def emit(self, event: str, *, episode_id: str | None = None, **fields: Any) -> int | None:
        """Write one event; returns its step index within the episode (None for run-level events)."""
        if event not in EVENT_NAMES:
            raise ValueError(f"unknown trace event {event!r}")
        with self._lock:
            step = None
            if episode_id is not None:
                step = self._steps.get(episode_id, 0)
                self._steps[episode_id] = step + 1
            self._log.msg(event, run_id=self.run_id, episode_id=episode_id, step=step, **fields)
        return step

    def close(self) -> None:
        with self._lock:
            if not self._file.closed:
                self._file.close()


_ORJSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _dumps(obj: Any, **_: Any) -> bytes:
    try:
        return orjson.dumps(obj, default=_json_default, option=_ORJSON_OPTIONS)
    except TypeError:  # a lone surrogate that slipped past the boundary, or an integer beyond 64 bits
        pass
    obj, replaced = valid_unicode_data(obj)
    if replaced:
        obj["unicode_replaced"] = obj.get("unicode_replaced", 0) + replaced
        try:
            return orjson.dumps(obj, default=_json_default, option=_ORJSON_OPTIONS)
        except TypeError:
            pass
    return json.dumps(obj, default=_json_default, separators=(",", ":")).encode("ascii")


def _json_default(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    if isinstance(obj, Path):
        return str(obj)
    return repr(obj)


def read_trace(run_dir: Path | str) -> Iterator[TraceEvent]:
    """Events of a run in file order; a torn final line (crash mid-write) is skipped."""
    path = Path(run_dir) / TRACE_FILE
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.endswith("\n"):
                break
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                continue
            # structlog names the message key "event"
            yield TraceEvent.model_validate(raw)
