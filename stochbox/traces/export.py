"""``stochbox export``: a run as two tables (episodes, events) in Parquet or CSV.

Contract: :func:`export_run` writes ``episodes.<ext>`` and ``events.<ext>``
into ``out_dir`` (default ``<run_dir>/export``) and returns their paths; both
load with ``pandas.read_parquet``/``read_csv``. Column names are stable:

* episodes: every :class:`~stochbox.results.EpisodeRecord` field (``samples``
  and ``tool_code`` as JSON text), ``n_samples``, and ``audit_flags`` (the audit's
  flag names for the episode, comma-separated, sorted). Episodes that started
  but never finished appear with ``status`` empty.
* events: ``run_id, episode_id, step, event, ts, schema_version`` (the
  :class:`~stochbox.run.trace.TraceEvent` fields), the most used payload fields
  as their own columns (``tool, call_id, seed, exit_code, ok, reasoning``), and the whole
  payload as JSON text in ``payload``. Rows: run-level events first, then
  each episode's events in step order.

pandas and pyarrow are the ``export`` extra, imported only here;
:class:`~stochbox.errors.MissingExtraError` names it when absent.

:func:`export_inspect` writes the run as one Inspect eval log instead
(``--format inspect``; the ``inspect`` extra; the conversion is
:mod:`stochbox.inspect.eval_log`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from stochbox.traces.audit import audit_trace
from stochbox.errors import ConfigError, MissingExtraError, RunStoreError
from stochbox.results import EpisodeRecord
from stochbox.traces.run_trace import load_run_trace

Format = Literal["parquet", "csv"]
EVENT_COLUMNS = ("run_id", "episode_id", "step", "event", "ts", "schema_version", "tool", "call_id", "seed", "exit_code", "ok", "reasoning", "payload")
_PROMOTED = ("tool", "call_id", "seed", "exit_code", "ok", "reasoning")


def _pandas():
    try:
        import pandas
    except ImportError:
        raise MissingExtraError("stochbox export", "export") from None
    return pandas


def _json(value: Any) -> str:
    return json.dumps(value, default=str, ensure_ascii=False)


def _episode_row(rec: EpisodeRecord | None, fallback: dict[str, Any], flags: list[str]) -> dict[str, Any]:
    if rec is not None:
        row = rec.model_dump(mode="json")
        row["samples"] = _json(row["samples"])
        row["tool_code"] = _json(row["tool_code"])
        row["n_samples"] = len(rec.samples)
    else:
        row = {name: None for name in EpisodeRecord.model_fields}
        row.update(fallback)
        row["samples"], row["tool_code"], row["n_samples"] = "[]", "[]", 0
    row["audit_flags"] = ",".join(sorted(set(flags)))
    return row


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def export_run(run_dir: Path | str, fmt: Format = "parquet", out_dir: Path | str | None = None) -> list[Path]:
    """Write the episodes and events tables; returns [episodes path, events path]."""
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"--format {fmt}: use parquet or csv")
    pd = _pandas()
    if fmt == "parquet":
        try:
            import pyarrow  # noqa: F401  (pandas needs it for parquet)
        except ImportError:
            raise MissingExtraError("stochbox export --format parquet", "export") from None
    run = load_run_trace(run_dir)
    audit = audit_trace(run)
    flags: dict[str, list[str]] = {}
    for f in audit.flags:
        if f.episode_id is not None:
            flags.setdefault(f.episode_id, []).append(f.flag.value)
    episodes = [
        _episode_row(
            ep.record,
            {"run_id": run.run_id, "episode_id": ep.episode_id, "scenario": ep.scenario, "model": ep.model,
             "mode": ep.mode, "index": ep.index, "seed": ep.seed},
            flags.get(ep.episode_id, []),
        )
        for ep in run.episodes.values()
    ]
    events = []
    for ev in [*run.run_events, *(e for ep in run.episodes.values() for e in ep.events)]:
        payload = ev.payload
        row = {"run_id": ev.run_id, "episode_id": ev.episode_id, "step": ev.step, "event": ev.event, "ts": ev.ts,
               "schema_version": ev.schema_version}
        for key in _PROMOTED:
            value = payload.get(key)
            row[key] = value if isinstance(value, (str, int, float, bool)) or value is None else _json(value)
        row["payload"] = _json(payload)
        events.append(row)
    out = Path(out_dir) if out_dir is not None else run.run_dir / "export"
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunStoreError(f"cannot create export folder {out}: {exc.strerror or exc}") from None
    episode_frame = pd.DataFrame(episodes, columns=[*EpisodeRecord.model_fields, "n_samples", "audit_flags"])
    event_frame = pd.DataFrame(events, columns=list(EVENT_COLUMNS))
    event_frame["step"] = event_frame["step"].astype("Int64")
    # nullable integer columns: seeds are 63-bit, a float column would round them
    for column in ("seed", "exit_code"):
        event_frame[column] = pd.array([_int_or_none(row[column]) for row in events], dtype="Int64")
    episode_frame["seed"] = pd.array([_int_or_none(row["seed"]) for row in episodes], dtype="Int64")
    paths = [out / f"episodes.{fmt}", out / f"events.{fmt}"]
    for frame, path in zip((episode_frame, event_frame), paths):
        try:
            if fmt == "parquet":
                frame.to_parquet(path, index=False)
            else:
                frame.to_csv(path, index=False)
        except OSError as exc:
            raise RunStoreError(f"cannot write {path}: {exc.strerror or exc}") from None
    return paths


def export_inspect(run_dir: Path | str, out: Path | str | None = None) -> Path:
    """Write the run as an Inspect eval log (default ``<run_dir>/run.eval``); returns its path."""
    try:
        import inspect_ai  # noqa: F401
    except ImportError:
        raise MissingExtraError("stochbox export --format inspect", "inspect") from None
    from stochbox.inspect.eval_log import write_inspect_log

    out = Path(out) if out is not None else Path(run_dir) / "run.eval"
    if out.suffix not in (".eval", ".json"):
        raise ConfigError(f"--out {out}: an Inspect log file ends in .eval (or .json)")
    return write_inspect_log(run_dir, out)
