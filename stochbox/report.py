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
* ``parse_rate`` = valid samples / samples requested, over stored episodes.
* JSON field names are stable: ``summary`` items are
  :class:`~stochbox.evaluators.KSAtNSummary`, ``results`` items
  :class:`~stochbox.evaluators.ScenarioTestResult`.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table

from stochbox.errors import ConfigError
from stochbox.evaluators import KSAtNSummary, ScenarioTestResult, evaluate_scenario, get_preset, summarize
from stochbox.reference import ReferenceCache
from stochbox.results import EpisodeRecord
from stochbox.runinfo import RunInfo, read_run_info
from stochbox.store import RunStore

class Report(BaseModel):
    """What ``report --json`` prints."""

    model_config = ConfigDict(extra="forbid")

    alpha: float
    preset: str
    summary: list[KSAtNSummary]
    results: list[ScenarioTestResult]

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def layout_samples(records: Iterable[EpisodeRecord], n: int, samples_per_episode: int) -> list[Any]:
    """The N sample slots of one (model, mode, scenario) in episode order; ``None`` where missing."""
    slots: list[Any] = [None] * n
    for rec in records:
        start = rec.index * samples_per_episode
        for j, value in enumerate(rec.samples[:samples_per_episode]):
            if start + j < n:
                slots[start + j] = value
    return slots


@dataclass
class RunData:
    """A run folder loaded for evaluation: its info, stored episodes and reference samples.

    The public entry point for anything that evaluates a run (report, curves,
    comparisons, HTML): samples come laid out by :meth:`samples` exactly as
    the report sees them.
    """

    info: RunInfo
    records: dict[tuple[str, str, str], list[EpisodeRecord]]  # (model, mode, scenario) -> by index
    references: dict[str, list[Any]]

    @property
    def groups(self) -> list[tuple[str, str]]:
        """(model, mode) pairs in config order."""
        return [(m, mode.value) for m in self.info.config.models for mode in self.info.config.modes]

    def samples(self, model: str, mode: str, scenario_id: str) -> list[Any]:
        cfg = self.info.config
        return layout_samples(self.records.get((model, mode, scenario_id), []), cfg.n, cfg.samples_per_episode)

    def parse_rate(self, model: str, mode: str) -> float:
        recs = [r for sc in self.info.scenarios for r in self.records.get((model, mode, sc.id), [])]
        requested = sum(r.n_requested for r in recs)
        return sum(len(r.samples) for r in recs) / requested if requested else 0.0


def load_run(run_dir: Path | str, *, sandbox: str | None = None) -> RunData:
    """Read a run folder (see the module contract); ``sandbox`` regenerates missing references."""
    run_dir = Path(run_dir).expanduser()
    info = read_run_info(run_dir)
    grouped: dict[tuple[str, str, str], list[EpisodeRecord]] = defaultdict(list)
    with RunStore(run_dir) as store:
        for rec in store.records():
            grouped[(rec.model, rec.mode.value, rec.scenario)].append(rec)
    return RunData(info=info, records=dict(grouped), references=_references(info, sandbox))


def build_report(
    run_dir: Path | str, *, alpha: float | None = None, preset: str | None = None, sandbox: str | None = None
) -> Report:
    run = load_run(run_dir, sandbox=sandbox)
    config = run.info.config
    rule = get_preset(preset or config.preset, alpha if alpha is not None else config.alpha)
    summary: list[KSAtNSummary] = []
    results: list[ScenarioTestResult] = []
    for model, mode in run.groups:
        group = [
            evaluate_scenario(sc, run.samples(model, mode, sc.id), run.references[sc.id], model=model, mode=mode, preset=rule)
            for sc in run.info.scenarios
        ]
        summary.append(summarize(group, parse_rate=run.parse_rate(model, mode)))
        results.extend(group)
    return Report(alpha=rule.alpha, preset=rule.name, summary=summary, results=results)


def _references(info: RunInfo, sandbox_backend: str | None) -> dict[str, list[Any]]:
    from stochbox.runner import load_references, open_run_sandbox

    cache = ReferenceCache(info.config.cache_dir)
    if all(cache.load(r.key) is not None for r in info.references):
        return asyncio.run(load_references(info.references, info.scenarios, cache, None, 1))
    with open_run_sandbox(sandbox_backend or info.config.sandbox, info.config.jobs) as sb:
        return asyncio.run(load_references(info.references, info.scenarios, cache, sb, info.config.jobs))


def _fmt(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def report_console() -> Console:
    """A console that does not squeeze the tables when stdout is a file or pipe."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=200)


def print_report(report: Report, console: Console | None = None, *, per_scenario: bool = True) -> None:
    """The text form: one summary table, then per-scenario rows."""
    console = console or report_console()
    table = Table(title=f"KS@N (preset {report.preset}, alpha {report.alpha:g}, 95% Wilson CI)")
    for col in ("model", "mode", "N", "KS@N", "95% CI", "passed", "parse rate", "mean stat"):
        table.add_column(col, justify="left" if col in ("model", "mode") else "right")
    for s in report.summary:
        table.add_row(
            s.model,
            s.mode,
            str(s.n),
            f"{s.ks_at_n:.3f}",
            f"[{s.ci_low:.3f}, {s.ci_high:.3f}]",
            f"{s.passed}/{s.scenarios}",
            f"{s.parse_rate:.3f}",
            _fmt(s.mean_statistic),
        )
    if per_scenario:
        rows = Table(title="per scenario")
        for col in ("scenario", "model", "mode", "test", "valid/N", "statistic", "p-value", "pass"):
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
            )
        console.print(rows)
    console.print(table)


def write_html(run_dirs: list[Path], out_path: Path) -> None:
    import stochbox.evaluators as evaluators

    writer = getattr(evaluators, "write_html_report", None)
    if writer is None:
        raise ConfigError("--html: the HTML report is not available in this installation yet")
    writer(run_dirs, out_path)
