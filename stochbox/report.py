"""KS@N report of a run folder: evaluate stored episodes against the references.

Contract:

* :func:`build_report` reads only the run folder (``run.json``, ``run.sqlite``)
  and the truth cache (regenerating a missing reference in the run's sandbox
  backend, byte-identical by construction). It is deterministic: no
  timestamps, run ids or unseeded randomness reach :class:`Report`, so the
  same run command twice gives identical ``report --json``.
* For each (model, mode) in config order and each scenario in run order, the
  N samples are laid out in episode order (episode ``i`` owns slots
  ``[i*k, (i+1)*k)``), with ``None`` for every missing, unparseable or
  not-yet-run sample; the evaluator counts those against the model.
* ``parse_rate`` = valid samples / samples requested, over stored episodes
  (a stored sample that fails the answer format counts as not parsed).
* Each result at the run's N carries ``regularity`` (the too-regular
  diagnostic, :mod:`stochbox.evaluators.regularity`; it never changes
  ``passed``); each summary counts ``too_regular`` scenarios and adds the
  family-clustered interval (``cluster_ci_low``, ``cluster_ci_high``,
  ``clusters``) beside the Wilson one.
* ``Report.to_json`` rounds floats to 12 significant digits (see there).
* JSON field names are stable: ``summary`` items are
  :class:`~stochbox.evaluators.KSAtNSummary` plus ``mean_model_calls`` and
  ``mean_tool_calls`` (per stored episode of the arm; None when it has none),
  ``results`` items :class:`~stochbox.evaluators.ScenarioTestResult`.
* ``curves`` holds KS@N (with its Wilson interval) of each arm at every N of
  :data:`~stochbox.evaluators.DEFAULT_CURVE_NS` not above the run's N,
  evaluated on prefixes of the same episode-ordered samples.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table

from stochbox.console import table_console
from stochbox.evaluators import DEFAULT_CURVE_NS, KSAtNSummary, ScenarioTestResult, get_preset, summarize
from stochbox.results import EpisodeRecord


class ArmSummary(KSAtNSummary):
    """KS@N of one (model, mode) and how much the agent worked for it."""

    mean_model_calls: float | None = None
    mean_tool_calls: float | None = None


class CurvePoint(BaseModel):
    """KS@N of one (model, mode) at one N of the curve, with its 95% Wilson interval."""

    model: str
    mode: str
    n: int
    ks_at_n: float
    ci_low: float
    ci_high: float


class Report(BaseModel):
    """What ``report --json`` prints."""

    model_config = ConfigDict(extra="forbid")

    alpha: float
    preset: str
    summary: list[ArmSummary]
    results: list[ScenarioTestResult]
    curves: list[CurvePoint] = []

    def to_json(self) -> str:
        """Canonical JSON. Floats carry 12 significant digits, so last-bit noise of floating-point
        summation order (e.g. over hash-ordered sets) cannot make two identical runs differ."""
        return json.dumps(_round_floats(self.model_dump(mode="json")), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _round_floats(obj: Any) -> Any:
    if isinstance(obj, float):
        return float(f"{obj:.12g}")
    if isinstance(obj, dict):
        return {k: _round_floats(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round_floats(v) for v in obj]
    return obj


def layout_samples(records: Iterable[EpisodeRecord], n: int, samples_per_episode: int) -> list[Any]:
    """The N sample slots of one (model, mode, scenario) in episode order; ``None`` where missing."""
    slots: list[Any] = [None] * n
    for rec in records:
        start = rec.index * samples_per_episode
        for j, value in enumerate(rec.samples[:samples_per_episode]):
            if start + j < n:
                slots[start + j] = value
    return slots


def build_report(
    run_dir: Path | str, *, alpha: float | None = None, preset: str | None = None, sandbox: str | None = None
) -> Report:
    # the evaluators' run loader lays samples out with layout_samples above; imported here to avoid a cycle
    from stochbox.evaluators import load_run

    run = load_run(run_dir, sandbox=sandbox)
    config = run.config
    rule = get_preset(preset or config.preset, alpha if alpha is not None else config.alpha)
    summary: list[ArmSummary] = []
    results: list[ScenarioTestResult] = []
    curves: list[CurvePoint] = []
    for arm in run.arms:
        group = run.evaluate_checked(arm, rule)
        episodes = [r for recs in run.records.get(arm, {}).values() for r in recs]
        summary.append(
            ArmSummary(
                **summarize(group, parse_rate=run.parse_rate(arm), families=run.families()).model_dump(),
                mean_model_calls=_mean(r.n_model_calls for r in episodes),
                mean_tool_calls=_mean(r.n_tool_calls for r in episodes),
            )
        )
        results.extend(group)
        for n in (n for n in DEFAULT_CURVE_NS if n <= config.n):
            point = summarize(run.evaluate(arm, rule, n), parse_rate=0.0)
            curves.append(CurvePoint(**point.model_dump(include=set(CurvePoint.model_fields))))
    return Report(alpha=rule.alpha, preset=rule.name, summary=summary, results=results, curves=curves)


def _mean(values: Iterable[int]) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def report_console() -> Console:
    """A console that does not squeeze the tables when stdout is a file or pipe."""
    return table_console()


def print_report(report: Report, console: Console | None = None, *, per_scenario: bool = True) -> None:
    """The text form: one summary table, then per-scenario rows."""
    console = console or report_console()
    table = Table(title=f"KS@N (preset {report.preset}, alpha {report.alpha:g}, 95% Wilson CI; family-clustered bootstrap CI)")
    for col in ("model", "mode", "N", "KS@N", "95% CI", "clustered CI", "passed", "too regular", "parse rate", "mean stat",
                "model calls", "tool calls"):
        table.add_column(col, justify="left" if col in ("model", "mode") else "right")
    for s in report.summary:
        table.add_row(
            s.model,
            s.mode,
            str(s.n),
            f"{s.ks_at_n:.3f}",
            f"[{s.ci_low:.3f}, {s.ci_high:.3f}]",
            "-" if s.cluster_ci_low is None else f"[{s.cluster_ci_low:.3f}, {s.cluster_ci_high:.3f}] ({s.clusters})",
            f"{s.passed}/{s.scenarios}",
            "-" if s.too_regular is None else str(s.too_regular),
            f"{s.parse_rate:.3f}",
            _fmt(s.mean_statistic),
            _fmt(s.mean_model_calls, ".2f"),
            _fmt(s.mean_tool_calls, ".2f"),
        )
    if per_scenario:
        rows = Table(title="per scenario")
        for col in ("scenario", "model", "mode", "test", "valid/N", "statistic", "p-value", "pass", "too regular"):
            rows.add_column(col)
        for r in report.results:
            rows.add_row(
                r.scenario,
                r.model,
                r.mode,
                r.test,
                f"{r.n_valid}/{r.n}",
                _fmt(r.statistic),
                _fmt(r.pvalue, ".3g"),
                "yes" if r.passed else "no",
                "-" if r.regularity is None else ("YES" if r.regularity.too_regular else "no"),
            )
        console.print(rows)
    if report.curves:
        curve = Table(title="KS@N curve (prefixes of the same samples, 95% Wilson CI)")
        for col in ("model", "mode", "N", "KS@N", "95% CI"):
            curve.add_column(col, justify="left" if col in ("model", "mode") else "right")
        for c in report.curves:
            curve.add_row(c.model, c.mode, str(c.n), f"{c.ks_at_n:.3f}", f"[{c.ci_low:.3f}, {c.ci_high:.3f}]")
        console.print(curve)
    console.print(table)


def write_html(
    run_dirs: list[Path], out_path: Path, *, alpha: float | None = None, preset: str | None = None, sandbox: str | None = None
) -> Path:
    """The evaluators' static HTML report (curves, comparisons, plots) of ``run_dirs``."""
    from stochbox.evaluators import write_html_report

    return write_html_report(run_dirs, out_path, preset=preset, alpha=alpha, sandbox=sandbox)
