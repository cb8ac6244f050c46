"""KS@N report of a run folder: evaluate stored episodes against the references.

Contract:

* :func:`build_report` reads only the run folder (``run.json``, ``run.sqlite``)
  and the truth cache (regenerating a missing reference in the run's sandbox
  backend, byte-identical by construction). It is deterministic: no
  timestamps, run ids or unseeded randomness reach :class:`Report`, so the
  same run command twice gives identical ``report --json``.
* For each (model, mode) in config order and each scenario in run order, the
  N samples are laid out in episode order (episode ``i`` owns slots
  ``[i*k, (i+1)*k)``; :func:`~stochbox.analysis.runs.layout_samples`), with
  ``None`` for every missing, unparseable or not-yet-run sample; the
  evaluator counts those against the model.
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
* ``conditions`` holds one entry per condition (one for a run without
  ``--condition``): ``condition`` (its name, null for the implicit one),
  ``prompts`` (label ``name (digest)`` of every template set its episodes
  used), ``structured_output`` and ``model_options``.
* ``curves`` holds KS@N (with its Wilson interval) of each arm at every N of
  :data:`~stochbox.evaluators.DEFAULT_CURVE_NS` not above the run's N,
  evaluated on prefixes of the same episode-ordered samples.
* ``by_tag`` (only with ``by_tag=[prefix, ...]``): for each prefix, each arm
  and each value of tags ``prefix:value``, KS@N of those scenarios at the
  run's N with the same interval (:class:`~stochbox.evaluators.TagSummary`,
  :func:`~stochbox.evaluators.summarize_by_tag`); prefixes in the order given.
* ``excluded``: scenarios the run left out because their ground truth failed
  (``run.json``); they are in no KS@N denominator.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table

from stochbox.conditions import run_conditions
from stochbox.console import table_console
from stochbox.analysis.runs import load_run
from stochbox.evaluators import (
    DEFAULT_CURVE_NS,
    KSAtNSummary,
    ScenarioTestResult,
    TagSummary,
    get_preset,
    summarize,
    summarize_by_tag,
    tag_prefix,
)
from stochbox.reference.exclusions import ExcludedScenario


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
    #: What each condition sent (stochbox.conditions): prompt sets (name and digest), structured output, model options.
    conditions: list[dict[str, Any]] = []
    by_tag: list[TagSummary] = []
    excluded: list[ExcludedScenario] = []

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


def build_report(
    run_dir: Path | str,
    *,
    alpha: float | None = None,
    preset: str | None = None,
    sandbox: str | None = None,
    by_tag: Sequence[str] = (),
    use_cache: bool = True,
) -> Report:
    """The report of ``run_dir`` (see the module contract). ``use_cache=False`` recomputes every verdict
    and leaves the run folder's verdict cache alone."""
    run = load_run(run_dir, sandbox=sandbox, cache_verdicts=use_cache)
    config = run.config
    rule = get_preset(preset or config.preset, alpha if alpha is not None else config.alpha)
    tagged: list[TagSummary] = []
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
    conditions = [c.describe(run.scenarios) for c in run_conditions(run.info)]
    for prefix in dict.fromkeys(tag_prefix(p) for p in by_tag):  # "group" and "group:" are one prefix
        for arm in run.arms:
            tagged += summarize_by_tag(run.evaluate(arm, rule), run.scenarios, prefix, parse_rate=lambda ids, arm=arm: run.parse_rate(arm, ids))
    return Report(
        alpha=rule.alpha, preset=rule.name, summary=summary, results=results, curves=curves, conditions=conditions,
        by_tag=tagged, excluded=list(run.info.excluded),
    )


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
    decoding = "/".join(dict.fromkeys(c["structured_output"] for c in report.conditions)) or "auto"
    left_out = f"; {len(report.excluded)} scenario(s) left out, see above" if report.excluded else ""
    table = Table(
        title=f"KS@N (preset {report.preset}, alpha {report.alpha:g}, structured output {decoding}, "
        f"95% Wilson CI; family-clustered bootstrap CI{left_out})"
    )
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
    for prefix in dict.fromkeys(t.tag for t in report.by_tag):
        console.print(by_tag_table(report, prefix))
    if report.excluded:
        excluded = Table(title=f"{len(report.excluded)} scenario(s) left out of the run: ground truth failed (not in KS@N)")
        for col in ("scenario", "source", "reason"):
            excluded.add_column(col)
        for e in report.excluded:
            excluded.add_row(e.scenario, e.source or "-", e.reason)
        console.print(excluded)
    console.print(table)
    for line in condition_lines(report.conditions):
        console.print(line, markup=False, highlight=False)


def condition_lines(conditions: list[dict[str, Any]]) -> list[str]:
    """One line per condition: prompt sets, structured output, model options (``Report.conditions``)."""
    out = []
    for c in conditions:
        options = ", ".join(f"{k}={json.dumps(v)}" for k, v in c.get("model_options", {}).items()) or "none"
        head = f"condition {c['condition']}: " if c.get("condition") else ""
        out.append(f"{head}prompts {' + '.join(c['prompts'])}; structured output {c['structured_output']}; model options {options}")
    return out


def by_tag_table(report: Report, prefix: str) -> Table:
    """KS@N per (model, mode) and value of tag ``prefix``: the paper's table layout."""
    table = Table(title=f"KS@N by {prefix} (preset {report.preset}, alpha {report.alpha:g}, 95% Wilson CI)")
    for col in ("model", "mode", prefix, "N", "KS@N", "95% CI", "passed", "parse rate", "mean stat"):
        table.add_column(col, justify="left" if col in ("model", "mode", prefix) else "right")
    for s in (t for t in report.by_tag if t.tag == prefix):
        table.add_row(
            s.model, s.mode, "(untagged)" if s.value is None else s.value, str(s.n), f"{s.ks_at_n:.3f}",
            f"[{s.ci_low:.3f}, {s.ci_high:.3f}]", f"{s.passed}/{s.scenarios}", f"{s.parse_rate:.3f}", _fmt(s.mean_statistic),
        )
    return table


def write_html(
    run_dirs: list[Path],
    out_path: Path,
    *,
    alpha: float | None = None,
    preset: str | None = None,
    sandbox: str | None = None,
    by_tag: Sequence[str] = (),
    use_cache: bool = True,
) -> Path:
    """The evaluators' static HTML report (curves, comparisons, plots) of ``run_dirs``."""
    from stochbox.analysis.html_report import write_html_report  # matplotlib: only for the HTML report

    return write_html_report(
        run_dirs, out_path, preset=preset, alpha=alpha, sandbox=sandbox, by_tag=by_tag, cache_verdicts=use_cache
    )
