"""``stochbox view DIR --html OUT``: one static HTML file to browse a run's trace.

Contract: :func:`write_viewer` writes a single self-contained HTML file (no
network, no server): a filterable, paged list of episodes (scenario, mode,
model, status, audit flag, id search) and, for one episode, its timeline of
events with prompts, code and outputs. It stays responsive on large traces
because nothing is rendered that is not on screen:

* episodes are one compact JSON block (strings dictionary-encoded), rendered
  a page (:data:`PAGE_SIZE` rows) at a time;
* events are sorted by (episode, step) and split into JSON blocks of
  :data:`CHUNK_SIZE` events (``<script type="application/json">``, never
  executed), parsed only when an episode in them is opened; a long episode's
  timeline is also paged.

What is left out of the file, so it stays proportional to the trace: each
``model_request`` keeps only the messages the previous request of the
episode did not have (the history is in the earlier steps), and strings are
cut at :data:`MAX_STRING` characters (the cut is marked). ``#ep=<episode id>``
in the URL opens an episode; ``#flag=...&model=...`` presets filters.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

from stochbox.traces.audit import AuditReport, FlagName, audit_trace
from stochbox.errors import RunStoreError
from stochbox.traces.run_trace import RunTrace, content_text, load_run_trace
from stochbox.run.trace import TraceEvent

CHUNK_SIZE = 2000
PAGE_SIZE = 100
MAX_STRING = 20_000
_JS_SAFE_INT = 2**53 - 1


@dataclass
class ViewerStats:
    path: Path
    bytes: int
    episodes: int
    events: int
    chunks: int


def _clip(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _JS_SAFE_INT:
        return str(value)  # JavaScript numbers would round 63-bit seeds
    if isinstance(value, str):
        return value if len(value) <= MAX_STRING else value[:MAX_STRING] + f"\n... [{len(value) - MAX_STRING} more characters in the trace]"
    if isinstance(value, list):
        return [_clip(v) for v in value]
    if isinstance(value, dict):
        return {k: _clip(v) for k, v in value.items()}
    return value


def _message(msg: dict[str, Any]) -> list[Any]:
    data = msg.get("data", msg)
    return [msg.get("type") or data.get("type") or "?", content_text(data.get("content")), data.get("tool_calls") or []]


def _safe_ints(payload: dict[str, Any]) -> dict[str, Any]:
    """Top-level 63-bit integers (seeds) as strings: JavaScript numbers would round them."""
    for key, value in payload.items():
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _JS_SAFE_INT:
            payload[key] = str(value)
    return payload


def _dumps(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def _event_row(ev: TraceEvent, code: int, seen: int) -> tuple[str, int]:
    """``[step, event code, time of day, payload]`` as JSON text; returns it and the messages seen so far."""
    payload = _safe_ints(dict(ev.payload))
    if ev.event == "model_request":
        messages = payload.pop("messages", None) or []
        payload["n_messages"] = len(messages)
        payload["new_messages"] = [_message(m) for m in messages[seen:]]
        seen = len(messages)
    elif ev.event == "model_response":
        seen += 1
    text = _dumps([ev.step, code, ev.ts[11:23], payload])
    if len(text) > MAX_STRING:  # only then can a string in it be over the limit
        text = _dumps([ev.step, code, ev.ts[11:23], _clip(payload)])
    return text, seen


class _Dict:
    """Dictionary encoding: each distinct string once, rows carry indexes."""

    def __init__(self) -> None:
        self.values: list[str] = []
        self._index: dict[str, int] = {}

    def __call__(self, value: Any) -> int:
        key = "" if value is None else str(value)
        if key not in self._index:
            self._index[key] = len(self.values)
            self.values.append(key)
        return self._index[key]


def _script_json(element_id: str, data: Any, *, raw: str | None = None) -> str:
    text = raw if raw is not None else _dumps(data)
    # a JSON block is raw text to the HTML parser: only "</" (and "<!--") can end or confuse it
    text = text.replace("</", "<\\/").replace("<!--", "<\\!--")
    return f'<script type="application/json" id="{element_id}">{text}</script>\n'


def build_viewer(run: RunTrace, audit: AuditReport) -> tuple[str, int]:
    """The HTML text and the number of event chunks."""
    names = _Dict()
    scenarios, models, modes, statuses = _Dict(), _Dict(), _Dict(), _Dict()
    flag_names = [f.value for f in FlagName]
    flags_by_episode: dict[str, list[list[Any]]] = {}
    for f in audit.flags:
        if f.episode_id is not None:
            flags_by_episode.setdefault(f.episode_id, []).append([flag_names.index(f.flag.value), f.step, f.detail])
    episodes: list[list[Any]] = []
    events: list[str] = []
    for ep in run.episodes.values():
        first, seen = len(events), 0
        for ev in ep.events:
            row, seen = _event_row(ev, names(ev.event), seen)
            events.append(row)
        rec = ep.record
        samples = json.dumps(ep.samples, default=str)
        episodes.append(
            [
                ep.episode_id,
                scenarios(ep.scenario),
                modes(ep.mode if ep.condition is None else f"{ep.mode}@{ep.condition}"),  # the arm's label, as in reports
                models(ep.model),
                ep.index,
                statuses(ep.status or "unfinished"),
                samples if len(samples) <= 200 else samples[:197] + "...",
                flags_by_episode.get(ep.episode_id, []),
                first,
                len(events) - first,
                rec.reason if rec is not None else None,
            ]
        )
    run_events = [[ev.event, ev.ts, _clip(_safe_ints(dict(ev.payload)))] for ev in run.run_events]
    chunks = [events[i : i + CHUNK_SIZE] for i in range(0, len(events), CHUNK_SIZE)]
    meta = {
        "run_id": run.run_id,
        "run_dir": str(run.run_dir),
        "n_events": run.n_events(),
        "n_episode_events": len(events),
        "chunk_size": CHUNK_SIZE,
        "page_size": PAGE_SIZE,
        "event_names": names.values,
        "scenarios": scenarios.values,
        "models": models.values,
        "modes": modes.values,
        "statuses": statuses.values,
        "flags": flag_names,
        "flag_counts": {c.flag.value: [c.count, c.episodes] for c in audit.summary},
        "run_flags": [[f.flag.value, f.detail] for f in audit.flags if f.episode_id is None],
        "run_events": run_events,
    }
    assets = files("stochbox.traces") / "viewer_assets"
    template = (assets / "viewer.html").read_text(encoding="utf-8")
    data = _script_json("sb-meta", meta) + _script_json("sb-episodes", episodes)
    data += "".join(_script_json(f"sb-chunk-{i}", None, raw="[" + ",".join(chunk) + "]") for i, chunk in enumerate(chunks))
    page = (
        template.replace("{{TITLE}}", html.escape(f"stochbox trace {run.run_id or run.run_dir.name}"))
        .replace("{{CSS}}", (assets / "viewer.css").read_text(encoding="utf-8"))
        .replace("{{JS}}", (assets / "viewer.js").read_text(encoding="utf-8"))
    )
    before, after = page.split("{{DATA}}")
    return before + data + after, len(chunks)


def write_viewer(run_dir: Path | str, out: Path | str) -> ViewerStats:
    """Write the viewer for the run in ``run_dir`` to ``out`` (overwrites ``out``)."""
    run = load_run_trace(run_dir)
    text, chunks = build_viewer(run, audit_trace(run))
    out = Path(out).expanduser()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise RunStoreError(f"cannot write {out}: {exc.strerror or exc}") from None
    return ViewerStats(path=out, bytes=out.stat().st_size, episodes=len(run.episodes), events=run.n_events(), chunks=chunks)
