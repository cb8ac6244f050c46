"""What ``stochbox demo`` prints: the model beside the two bounds, short enough to read at once.

Contract of :func:`demo_summary`: from a finished demo run (one model plus
``baseline:oracle`` and ``baseline:collapse``, ``--mode both``) it builds the
rows of the summary table -- the model native, the model tool-assisted, the
oracle (upper bound) and the constant answerer (lower bound, both from their
native arm) -- with KS@N, its 95% Wilson interval, passed/scenarios, the
share of valid samples and each scenario's p-value and verdict; and the
paired native-vs-tool comparison of the model (McNemar exact, paired
bootstrap). :func:`print_demo` renders it in about twenty lines.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich import box
from rich.console import Console
from rich.table import Table

from stochbox.evaluators import get_preset, summarize
from stochbox.analysis.compare import Comparison, compare_results
from stochbox.evaluators.models import KSAtNSummary, ScenarioTestResult
from stochbox.analysis.runs import RunData

ORACLE, COLLAPSE = "baseline:oracle", "baseline:collapse"
#: Per-scenario columns are shown up to this many scenarios (then only the aggregate).
MAX_SCENARIO_COLUMNS = 5


@dataclass
class DemoRow:
    label: str
    summary: KSAtNSummary
    results: list[ScenarioTestResult]


@dataclass
class DemoSummary:
    model: str
    n: int
    preset: str
    alpha: float
    scenarios: list[str]
    rows: list[DemoRow]
    comparison: Comparison | None


def demo_summary(run: RunData, model: str) -> DemoSummary:
    preset = get_preset(run.config.preset, run.config.alpha)
    arms = [
        (f"{model} native", (model, "native")),
        (f"{model} tool", (model, "tool")),
        ("oracle (upper bound)", (ORACLE, "native")),
        ("constant (lower bound)", (COLLAPSE, "native")),
    ]
    rows = []
    for label, arm in arms:
        if arm not in run.arms:
            continue
        results = run.evaluate(arm, preset)
        rows.append(DemoRow(label, summarize(results, parse_rate=run.parse_rate(arm)), results))
    comparison = None
    if (model, "native") in run.arms and (model, "tool") in run.arms:
        comparison = compare_results(
            f"{model}/native", run.evaluate((model, "native"), preset),
            f"{model}/tool", run.evaluate((model, "tool"), preset), run.scenarios,
        )
    return DemoSummary(model, run.config.n, preset.name, preset.alpha, [s.id for s in run.scenarios], rows, comparison)


def _p(p: float | None) -> str:
    if p is None:
        return "-"
    return f"{p:.2g}" if p >= 0.01 else f"{p:.0e}"


def print_demo(summary: DemoSummary, console: Console) -> None:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    table.add_column("")
    for col in ("KS@N", "95% CI", "passed", "valid"):
        table.add_column(col, justify="right")
    per_scenario = len(summary.scenarios) <= MAX_SCENARIO_COLUMNS
    if per_scenario:
        for sid in summary.scenarios:
            table.add_column(sid, justify="right")
    for row in summary.rows:
        s = row.summary
        cells = [row.label, f"{s.ks_at_n:.2f}", f"[{s.ci_low:.2f}, {s.ci_high:.2f}]", f"{s.passed}/{s.scenarios}", f"{s.parse_rate:.0%}"]
        if per_scenario:
            by_id = {r.scenario: r for r in row.results}
            cells += [f"{'pass' if by_id[i].passed else 'fail'} p={_p(by_id[i].pvalue)}" for i in summary.scenarios]
        table.add_row(*cells)
    console.print(table)
    console.print(
        f"KS@N: share of scenarios whose N={summary.n} answers a two-sample test cannot tell from the ground truth\n"
        f"  (pass: p >= {summary.alpha:g}, preset {summary.preset}); 95% CI: Wilson interval; valid: answers that parsed;\n"
        "  p: each scenario's test (KS for numbers, chi-square for labels; stochbox picks it by support).\n"
        "oracle: fresh draws of the ground-truth program, what a perfect sampler scores;\n"
        "constant: the same typical answer every time, what a collapsed sampler scores."
    )
    c = summary.comparison
    if c is not None:
        hint = f" ({c.scenarios} scenarios show only large differences; a pack at N=100 shows more)" if c.scenarios < 10 else ""
        console.print(
            f"tool - native: {c.diff:+.2f} KS@N, 95% paired-bootstrap CI [{c.diff_ci_low:+.2f}, {c.diff_ci_high:+.2f}], "
            f"McNemar exact p = {c.mcnemar_pvalue:.2g}{hint}"
        )
