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
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict
from rich.console import Console
from rich.table import Table

from stochbox import evaluators
from stochbox.errors import ConfigError
from stochbox.evaluators import KSAtNSummary, Preset, ScenarioTestResult
from stochbox.reference import ReferenceCache
from stochbox.results import EpisodeRecord
from stochbox.runinfo import RunInfo, read_run_info
from stochbox.scenarios.models import Scenario
from stochbox.store import RunStore

#: Default alpha of each preset (UnpredictaBench passes a scenario when p > 1e-4).
PRESET_ALPHA = {"stochbox": 0.05, "unpredictabench": 1e-4}


def preset_for(name: str, alpha: float | None = None) -> Preset:
    if name not in PRESET_ALPHA:
        raise ConfigError(f"--preset must be one of {', '.join(PRESET_ALPHA)}, not '{name}'")
    if alpha is not None and not 0 < alpha < 1:
        raise ConfigError(f"--alpha must be between 0 and 1, not {alpha}")
    return Preset(name=name, alpha=PRESET_ALPHA[name] if alpha is None else alpha)


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


def build_report(
    run_dir: Path | str, *, alpha: float | None = None, preset: str | None = None, sandbox: str | None = None
) -> Report:
    run_dir = Path(run_dir).expanduser()
    info = read_run_info(run_dir)
    config = info.config
    rule = preset_for(preset or config.preset, alpha if alpha is not None else config.alpha)
    with RunStore(run_dir) as store:
        grouped: dict[tuple[str, str, str], list[EpisodeRecord]] = defaultdict(list)
        for rec in store.records():
            grouped[(rec.model, rec.mode.value, rec.scenario)].append(rec)
    references = _references(info, sandbox)
    summary: list[KSAtNSummary] = []
    results: list[ScenarioTestResult] = []
    for model in config.models:
        for mode in config.modes:
            group: list[ScenarioTestResult] = []
            valid = requested = 0
            for sc in info.scenarios:
                recs = grouped.get((model, mode.value, sc.id), [])
                valid += sum(len(r.samples) for r in recs)
                requested += sum(r.n_requested for r in recs)
                samples = layout_samples(recs, config.n, config.samples_per_episode)
                group.append(_evaluate(sc, samples, references[sc.id], model=model, mode=mode.value, preset=rule))
            parse_rate = valid / requested if requested else 0.0
            summary.append(_summarize(group, parse_rate=parse_rate))
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
    writer = getattr(evaluators, "write_html_report", None)
    if writer is None:
        raise ConfigError("--html: the HTML report is not available in this installation yet")
    writer(run_dirs, out_path)


def _evaluate(scenario: Scenario, samples: list[Any], reference: list[Any], *, model: str, mode: str, preset: Preset) -> ScenarioTestResult:
    fn = getattr(evaluators, "evaluate_scenario", None) or _temporary_evaluate_scenario
    return fn(scenario, samples, reference, model=model, mode=mode, preset=preset)


def _summarize(results: list[ScenarioTestResult], *, parse_rate: float) -> KSAtNSummary:
    fn = getattr(evaluators, "summarize", None) or _temporary_summarize
    return fn(results, parse_rate=parse_rate)


# --- TEMPORARY (remove when stochbox.evaluators.evaluate_scenario/summarize land) ---------
# A plain two-sample KS (scipy.stats.ks_2samp) per scenario, failing when fewer
# than N samples are valid. Labels and permutations are compared by a
# chi-square test of counts; vectors by per-coordinate KS with Bonferroni.


def _temporary_evaluate_scenario(
    scenario: Scenario, samples: list[Any], reference: list[Any], *, model: str, mode: str, preset: Preset
) -> ScenarioTestResult:
    import numpy as np
    from scipy import stats

    valid = [s for s in samples if s is not None]
    n, n_valid = len(samples), len(valid)
    statistic = pvalue = None
    kind = scenario.answer_format.type.value
    test = "ks_2samp"
    if valid:
        if kind in ("number", "integer"):
            res = stats.ks_2samp(valid, reference)
            statistic, pvalue = float(res.statistic), float(res.pvalue)
        elif kind in ("label", "list"):
            test = "chi2_contingency"
            keys = sorted({json.dumps(v) for v in reference} | {json.dumps(v) for v in valid})
            ca, cr = _counts(valid, keys), _counts(reference, keys)
            if len(keys) == 1:
                statistic, pvalue = 0.0, 1.0
            else:
                res = stats.chi2_contingency(np.array([ca, cr]))
                statistic, pvalue = float(res.statistic), float(res.pvalue)
        else:
            test = "ks_2samp_marginals_bonferroni"
            a, r = np.asarray(valid, float), np.asarray(reference, float)
            tests = [stats.ks_2samp(a[:, j], r[:, j]) for j in range(a.shape[1])]
            statistic = float(max(t.statistic for t in tests))
            pvalue = float(min(1.0, a.shape[1] * min(t.pvalue for t in tests)))
    passed = n_valid == n and pvalue is not None and pvalue >= preset.alpha
    reason = None if n_valid == n else f"fewer than N valid samples ({n_valid} of {n})"
    return ScenarioTestResult(
        scenario=scenario.id, model=model, mode=mode, n=n, n_valid=n_valid, test=test,
        statistic=statistic, pvalue=pvalue, passed=passed, alpha=preset.alpha, preset=preset.name, reason=reason,
    )


def _counts(values: list[Any], keys: list[str]) -> list[int]:
    pos = {k: i for i, k in enumerate(keys)}
    out = [0] * len(keys)
    for v in values:
        out[pos[json.dumps(v)]] += 1
    return out


def _temporary_summarize(results: list[ScenarioTestResult], *, parse_rate: float) -> KSAtNSummary:
    import math

    first = results[0]
    k, m = sum(r.passed for r in results), len(results)
    z = 1.959963984540054
    p = k / m
    centre = (p + z * z / (2 * m)) / (1 + z * z / m)
    half = z * math.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / (1 + z * z / m)
    stats_ = [r.statistic for r in results if r.statistic is not None and r.test.startswith("ks")]
    return KSAtNSummary(
        model=first.model, mode=first.mode, n=first.n, alpha=first.alpha, preset=first.preset,
        ks_at_n=p, ci_low=max(0.0, centre - half), ci_high=min(1.0, centre + half), scenarios=m, passed=k,
        parse_rate=parse_rate, mean_statistic=sum(stats_) / len(stats_) if stats_ else None,
    )
