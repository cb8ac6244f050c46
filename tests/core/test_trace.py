"""TraceWriter: one flushed, valid TraceEvent line per event, whatever values an event carries."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from stochbox.results import EpisodeStatus
from stochbox.scenarios.models import AnswerFormat
from stochbox.run.trace import SCHEMA_VERSION, TRACE_FILE, TraceEvent, TraceWriter, read_trace


def _lines(run_dir: Path) -> list[str]:
    return (run_dir / TRACE_FILE).read_text(encoding="utf-8").splitlines(keepends=True)


def test_every_event_is_on_disk_as_soon_as_emit_returns(tmp_path):
    writer = TraceWriter(tmp_path, "run-1")
    for i in range(3):
        writer.emit("episode_start", episode_id="e0", scenario="s", index=i)
        lines = _lines(tmp_path)  # read while the writer is still open: nothing may wait in a buffer
        assert len(lines) == i + 1 and lines[-1].endswith("\n")
    writer.close()


def test_lines_are_trace_events_with_steps_per_episode(tmp_path):
    writer = TraceWriter(tmp_path, "run-1")
    assert writer.emit("run_start", resumed=False) is None
    assert [writer.emit("parse", episode_id=e, ok=True) for e in ("a", "b", "a", "a", "b")] == [0, 0, 1, 2, 1]
    writer.close()
    events = list(read_trace(tmp_path))
    assert [(e.event, e.episode_id, e.step) for e in events][:3] == [("run_start", None, None), ("parse", "a", 0), ("parse", "b", 0)]
    first = json.loads(_lines(tmp_path)[0])
    assert first["schema_version"] == SCHEMA_VERSION and first["run_id"] == "run-1" and first["ts"].endswith("+00:00")


def test_values_that_are_not_json_are_converted_not_lost(tmp_path):
    writer = TraceWriter(tmp_path, "r")
    fields = dict(
        array=np.arange(3),
        scalar=np.int64(7),
        floats=np.array([0.5, 1.25]),
        members={"b", "a"},
        path=Path("/tmp/x"),
        model=AnswerFormat(type="integer"),
        status=EpisodeStatus.ok,
        int_keys={1: "one"},
        text="é ünïcode ✓ \u2028",
        tiny=1e-300,
        precise=0.1 + 0.2,
        big=2**63 - 1,
    )
    writer.emit("tool_call", episode_id="e", **fields)
    writer.close()
    (event,) = read_trace(tmp_path)
    p = event.payload
    assert p["array"] == [0, 1, 2] and p["scalar"] == 7 and p["floats"] == [0.5, 1.25]
    assert p["members"] == ["a", "b"] and p["path"] == "/tmp/x"
    assert p["model"] == AnswerFormat(type="integer").model_dump(mode="json")
    assert p["status"] == "ok" and p["int_keys"] == {"1": "one"}
    assert p["text"] == fields["text"]
    assert p["tiny"] == 1e-300 and p["precise"] == 0.1 + 0.2 and p["big"] == 2**63 - 1


@pytest.mark.parametrize(
    "value",
    [10**40, -(2**64), {"args": {"answer": [1, 10**30]}}],
    ids=["huge-int", "huge-negative", "nested-huge-int"],
)
def test_values_orjson_refuses_are_still_written_exactly(tmp_path, value):
    """A model can put any JSON number or string in a tool call; the trace must keep it, not crash the episode."""
    writer = TraceWriter(tmp_path, "r")
    writer.emit("tool_call", episode_id="e", args=value)
    writer.emit("tool_result", episode_id="e", ok=True)  # the writer goes on afterwards
    writer.close()
    events = list(read_trace(tmp_path))
    assert [e.step for e in events] == [0, 1]
    assert events[0].payload["args"] == value


@pytest.mark.parametrize("big", [1, 10**30], ids=["orjson", "stdlib-encoder"])
def test_a_lone_surrogate_is_replaced_and_counted_never_written(tmp_path, big):
    """Outside text is made valid where it enters; a string that slips past still never reaches the file invalid."""
    writer = TraceWriter(tmp_path, "r")
    writer.emit("tool_call", episode_id="e", args={"answer": "lone \ud800 surrogate", "n": big, "\udfff": 1})
    writer.close()
    raw = (tmp_path / "trace.jsonl").read_bytes()
    raw.decode("utf-8")  # strict: valid UTF-8
    assert b"\\ud800" not in raw and b"\\udfff" not in raw
    (event,) = read_trace(tmp_path)
    assert event.payload["args"] == {"answer": "lone \ufffd surrogate", "n": big, "\ufffd": 1}
    assert event.payload["unicode_replaced"] == 2


def test_non_finite_floats_are_null(tmp_path):
    writer = TraceWriter(tmp_path, "r")
    writer.emit("parse", episode_id="e", value=[math.nan, math.inf, 1.0])
    writer.close()
    raw = _lines(tmp_path)[0]
    assert TraceEvent.model_validate_json(raw).payload["value"] == [None, None, 1.0]  # strict JSON, no NaN token
