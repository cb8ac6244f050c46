"""``stochbox compare`` and ``stochbox calibrate`` (evaluation science).

``compare DIR [DIR2]``: paired comparison of native vs tool within one run
(or models within one run, or two runs); ``--fidelity`` adds program
fidelity of tool-mode episodes (re-runs the agent's own code ``--m`` times in
the sandbox) and ``--html OUT`` writes the HTML report with that section.
``calibrate``: oracle pass rates per scenario and support type.
Both print tables, or JSON with ``--json``; calibrate exits 1 when a support
type misses its target so scripts and CI can gate on it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from stochbox.cli.defaults import DEFAULT_BOOTSTRAP, DEFAULT_M, DEFAULT_MAX_PROGRAMS, DEFAULT_TRIALS, PRESET_NAMES
from stochbox.console import table_console
from stochbox.errors import ConfigError

if TYPE_CHECKING:  # the evaluators import scipy: loaded by the commands, not by ``stochbox --help``
    from stochbox.analysis.calibration import CalibrationReport, ScenarioCalibration
    from stochbox.analysis.compare import Comparison
    from stochbox.analysis.fidelity import FidelityReport


def _console() -> Console:
    return table_console()


def _p(x: float | None) -> str:
    return "-" if x is None else f"{x:.3g}"


def print_comparison(c: Comparison, console: Console) -> None:
    console.rule(f"[bold]{c.a}[/] (A) vs [bold]{c.b}[/] (B) — N={c.n}, preset {c.preset}, alpha {c.alpha:g}")
    console.print(
        f"KS@N  A {c.a_ks_at_n:.3f} ({c.a_passed}/{c.scenarios})   B {c.b_ks_at_n:.3f} ({c.b_passed}/{c.scenarios})   "
        f"B−A {c.diff:+.3f}, 95% paired-bootstrap CI [{c.diff_ci_low:+.3f}, {c.diff_ci_high:+.3f}] ({c.bootstrap} resamples)"
    )
    if c.diff_cluster_ci_low is not None:
        console.print(
            f"      family-clustered 95% CI [{c.diff_cluster_ci_low:+.3f}, {c.diff_cluster_ci_high:+.3f}] "
            f"({c.clusters} families resampled whole; use it for a claim about scenarios in general)"
        )
    console.print(
        f"pairs: both pass {c.both_pass}, A only {c.a_only}, B only {c.b_only}, neither {c.neither};  "
        f"McNemar exact p = {c.mcnemar_pvalue:.3g}"
    )
    groups = Table(title="by kind, support and tag")
    for col in ("group", "scenarios", "KS@N A", "KS@N B", "B−A", "A only", "B only", "McNemar p"):
        groups.add_column(col, justify="left" if col == "group" else "right")
    for g in c.by_group:
        groups.add_row(g.group, str(g.scenarios), f"{g.a_ks_at_n:.3f}", f"{g.b_ks_at_n:.3f}", f"{g.diff:+.3f}",
                       str(g.a_only), str(g.b_only), _p(g.mcnemar_pvalue))
    console.print(groups)
    rows = Table(title="per scenario")
    for col in ("scenario", "support", "test", "A pass", "A p", "A valid", "B pass", "B p", "B valid"):
        rows.add_column(col)
    for p in c.pairs:
        rows.add_row(p.scenario, p.support, p.test, "yes" if p.a_passed else "no", _p(p.a_pvalue), str(p.a_n_valid),
                     "yes" if p.b_passed else "no", _p(p.b_pvalue), str(p.b_n_valid))
    console.print(rows)


def print_fidelity(f: FidelityReport, console: Console) -> None:
    console.rule(f"[bold]program fidelity[/] — each program re-run to M={f.m} samples, preset {f.preset}, alpha {f.alpha:g}")
    table = Table()
    for col in ("scenario", "model", "agent (N)", "episodes", "checked", "program pass", "fidelity", "no code", "not sampler", "unchecked"):
        table.add_column(col)
    for s in f.scenarios:
        table.add_row(s.scenario, s.model, "-" if s.agent_passed is None else ("pass" if s.agent_passed else "fail"),
                      str(s.episodes), str(s.checked), str(s.program_passed),
                      "-" if s.fidelity is None else f"{s.fidelity:.2f}", str(s.no_code), str(s.not_sampler), str(s.unchecked))
    console.print(table)
    if f.fidelity is not None:
        console.print(f"aggregate: {f.program_passed}/{f.checked} checked episodes ran a program that passes "
                      f"({f.fidelity:.3f}, 95% Wilson CI [{f.ci_low:.3f}, {f.ci_high:.3f}])")
    for k, v in f.crosstab.items():
        console.print(f"  scenarios with {k}: {v}")


def compare_command(
    run_dirs: list[Path] = typer.Argument(..., help="One run folder (native vs tool, or its models) or two run folders."),
    preset: Optional[str] = typer.Option(None, "--preset", help=f"Pass rule: {' | '.join(PRESET_NAMES)} (default: the first run's)."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Significance level (default: the preset's)."),
    n: Optional[int] = typer.Option(None, "--n", help="Compare at this N (a prefix; default: the smaller run N)."),
    bootstrap: int = typer.Option(DEFAULT_BOOTSTRAP, "--bootstrap", help="Paired-bootstrap resamples for the KS@N difference CI."),
    fidelity: bool = typer.Option(False, "--fidelity", help="Also re-run tool-mode programs M times and test them (program fidelity)."),
    m: int = typer.Option(DEFAULT_M, "--m", help="Samples per program for --fidelity."),
    max_programs: int = typer.Option(DEFAULT_MAX_PROGRAMS, "--max-programs", help="Distinct programs per scenario re-run by --fidelity."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help="Sandbox backend for --fidelity and missing references (default: the run's)."),
    html_out: Optional[Path] = typer.Option(None, "--html", help="Also write the HTML report of these runs (with the fidelity section) here."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: {comparisons: [...], fidelity: [...]}"),
) -> None:
    """Paired comparison: per-scenario pass/fail, McNemar's exact test, KS@N difference with a bootstrap CI."""
    from stochbox.analysis.compare import compare_runs
    from stochbox.analysis.fidelity import program_fidelity
    from stochbox.evaluators.presets import get_preset
    from stochbox.analysis.runs import load_run

    if not 1 <= len(run_dirs) <= 2:
        raise ConfigError("compare takes one or two run folders")
    if n is not None and n < 1:
        raise ConfigError(f"--n must be >= 1, not {n}")
    if m < 1 or bootstrap < 1 or max_programs < 1:
        raise ConfigError("--m, --bootstrap and --max-programs must be >= 1")
    runs = [load_run(d, sandbox=sandbox) for d in run_dirs]
    if n is not None and any(n > r.config.n for r in runs):
        raise ConfigError(f"--n {n} is larger than a run's N ({min(r.config.n for r in runs)})")
    rule = get_preset(preset or runs[0].config.preset, alpha if alpha is not None else runs[0].config.alpha)
    # A single-arm run has nothing to compare (compare_runs says so) unless only fidelity was asked for.
    comparisons = compare_runs(runs, rule, n=n, bootstrap=bootstrap) if (_comparable(runs) or not fidelity) else []
    fidelity_reports: list[FidelityReport] = []
    if fidelity:
        from stochbox.run.episode import open_run_sandbox

        for run in runs:
            if not any(mode.partition("@")[0] == "tool" for _, mode in run.arms):
                continue
            with open_run_sandbox(sandbox or run.config.sandbox, 1) as sb:
                fidelity_reports.append(program_fidelity(run, sb, rule, m=m, max_programs=max_programs))
    if html_out is not None:
        from stochbox.analysis.html_report import render_html_report
        from stochbox.reference.cache import atomic_write

        atomic_write(html_out.expanduser(), render_html_report(runs, rule, fidelity=fidelity_reports).encode())
    from stochbox.conditions import run_conditions

    conditions = [(str(r.run_dir), [c.describe(r.scenarios) for c in run_conditions(r.info)]) for r in runs]
    if as_json:
        out = {
            "preset": rule.name,
            "alpha": rule.alpha,
            "runs": [{"run_dir": d, "conditions": cs} for d, cs in conditions],
            "comparisons": [c.model_dump(mode="json") for c in comparisons],
            "fidelity": [f.model_dump(mode="json") for f in fidelity_reports],
        }
        typer.echo(json.dumps(out, indent=2, allow_nan=False))
        return
    console = _console()
    from stochbox.analysis.report import condition_lines

    for run_dir, cs in conditions:  # what each run sent: prompt sets, structured output, model options
        for line in condition_lines(cs):
            console.print(f"{run_dir}: {line}", markup=False, highlight=False)
    for c in comparisons:
        print_comparison(c, console)
    for f in fidelity_reports:
        print_fidelity(f, console)


def _comparable(runs: list) -> bool:
    """One run with a single arm has nothing to compare; with --fidelity that is fine."""
    return not (len(runs) == 1 and len(runs[0].arms) == 1)


def print_calibration(rep: CalibrationReport, console: Console) -> None:
    table = Table(title=f"oracle pass rate per scenario (N={rep.n}, {rep.trials} trials, alpha {rep.alpha:g}, target {rep.target:.2f})")
    for col in ("scenario", "pack", "support", "test", "pass rate", "95% CI (exact)", "binomial p", "flag"):
        table.add_column(col)
    for s in rep.scenarios:
        if s.error:
            table.add_row(s.scenario, s.pack or "", s.support, "-", "-", "-", "-", f"error: {s.error}")
            continue
        table.add_row(s.scenario, s.pack or "", s.support, s.test or "", f"{s.pass_rate:.3f}",
                      f"[{s.ci_low:.3f}, {s.ci_high:.3f}]", _p(s.binom_pvalue), s.direction or "")
    console.print(table)
    sup = Table(title=f"per support type (target {rep.target:.2f} ± {rep.tolerance:.2f})")
    for col in ("support", "scenarios", "trials", "pass rate", "95% CI (exact)", "within target"):
        sup.add_column(col)
    for s in rep.supports:
        sup.add_row(s.support, str(s.scenarios), str(s.trials), f"{s.pass_rate:.3f}", f"[{s.ci_low:.3f}, {s.ci_high:.3f}]",
                    "yes" if s.within_target else "NO")
    console.print(sup)
    flagged = [s.scenario for s in rep.scenarios if s.flagged]
    console.print(f"flagged (exact binomial p < {rep.flag_level:g}): {', '.join(flagged) if flagged else 'none'}")


def calibrate_command(
    pack: Optional[list[str]] = typer.Option(None, "--pack", "-p", help="Built-in pack name or folder (repeatable); default: all built-in."),
    scenario: Optional[list[str]] = typer.Option(None, "--scenario", "-s", help="Only these scenario ids (repeatable)."),
    trials: int = typer.Option(DEFAULT_TRIALS, "--trials", help="Oracle trials per scenario."),
    n: int = typer.Option(100, "--n", help="Samples per trial, N."),
    alpha: float = typer.Option(0.05, "--alpha", help="Significance level."),
    seed: int = typer.Option(0, "--seed", help="Root seed (reference and oracle seeds derive from it)."),
    reference_n: int = typer.Option(10_000, "--reference-n", help="Reference samples per scenario."),
    sandbox: str = typer.Option("auto", "--sandbox", help="Sandbox backend for ground truth."),
    cache_dir: Optional[str] = typer.Option(None, "--cache-dir", help="Truth cache folder."),
    as_json: bool = typer.Option(False, "--json", help="Print the calibration report as JSON."),
) -> None:
    """Run the oracle many times; report pass rates per scenario and support type (should be ~1 - alpha)."""
    from stochbox.analysis.calibration import calibrate
    from stochbox.reference.cache import ReferenceCache
    from stochbox.run.episode import open_run_sandbox
    from stochbox.scenarios import resolve_packs

    if trials < 1 or n < 1 or reference_n < 1:
        raise ConfigError("--trials, --n and --reference-n must be >= 1")
    if not 0 < alpha < 1:
        raise ConfigError(f"--alpha must be between 0 and 1, not {alpha}")
    scenarios = [s for p in resolve_packs(pack) for s in p.scenarios]
    if scenario:
        unknown = sorted(set(scenario) - {s.id for s in scenarios})
        if unknown:
            raise ConfigError(f"--scenario: unknown id(s) {', '.join(unknown)}", hint="see: stochbox scenarios list")
        scenarios = [s for s in scenarios if s.id in set(scenario)]
    console = _console()
    progress = None
    if not as_json:
        def progress(row: ScenarioCalibration) -> None:
            console.print(f"  {row.scenario}: {'error' if row.error else f'{row.pass_rate:.3f}'}", highlight=False)
    with open_run_sandbox(sandbox, 1) as sb:
        rep = calibrate(scenarios, sb, trials=trials, n=n, alpha=alpha, seed=seed, reference_n=reference_n,
                        cache=ReferenceCache(cache_dir), progress=progress)
    if as_json:
        typer.echo(rep.model_dump_json(indent=2))
    else:
        print_calibration(rep, console)
    if not rep.ok:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_command)
    app.command("calibrate")(calibrate_command)
