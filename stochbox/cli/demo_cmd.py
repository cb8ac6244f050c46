"""``stochbox demo``: the README's main job.

A real comparison in a few minutes on a laptop: one model (by default the
embedded SmolLM2-135M, no API key) answers a few built-in scenarios natively
and tool-assisted, with the same episode seeds, beside the two bounds every
score should be read against: ``baseline:oracle`` (fresh draws of the ground
truth) and ``baseline:collapse`` (one constant answer). It is
``stochbox run --model M --model baseline:oracle --model baseline:collapse
--mode both`` followed by a short summary (:mod:`stochbox.analysis.demo`), the HTML
report and the trace viewer; ``--tables`` adds the long tables of
``stochbox report`` and ``stochbox compare``. The run folder is kept, so
``report``, ``audit``, ``trace``, ``view`` and ``export`` work on it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

DEMO_SCENARIOS = ("normal-explicit", "die-roll", "weather-categorical")


def demo_command(
    model: str = typer.Option("local:smollm2", "--model", "-m", help="Model to compare (default: the embedded SmolLM2-135M)."),
    scenario: Optional[list[str]] = typer.Option(None, "--scenario", "-s", help=f"Scenario ids (default: {', '.join(DEMO_SCENARIOS)})."),
    n: int = typer.Option(20, "--n", help="Samples per scenario and mode."),
    seed: int = typer.Option(0, "--seed"),
    sandbox: str = typer.Option("auto", "--sandbox", help="Sandbox backend (auto: docker, else the local jail)."),
    out_dir: Optional[Path] = typer.Option(None, "--out", "-o", help="Run folder (default: runs/demo-<time>)."),
    tables: bool = typer.Option(False, "--tables", help="Also print the per-scenario tables and the native-vs-tool breakdown by kind, support and tag."),
) -> None:
    """Native vs tool-assisted on a few built-in scenarios, beside the oracle and a constant answerer."""
    from stochbox.cli.eval_cmd import print_comparison
    from stochbox.cli.run_cmd import warn_at_start, with_progress
    from stochbox.run.config import RunConfig
    from stochbox.analysis.demo import COLLAPSE, ORACLE, demo_summary, print_demo
    from stochbox.analysis import load_run
    from stochbox.analysis.html_report import write_html_report
    from stochbox.analysis.report import build_report, print_report, report_console
    from stochbox.run.runner import start_run
    from stochbox.traces.viewer import write_viewer

    out = out_dir or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    ids = list(scenario or DEMO_SCENARIOS)
    config = RunConfig.from_options(
        models=[model, ORACLE, COLLAPSE],
        packs=["canonical"],
        scenarios=ids,
        mode="both",
        n=n,
        seed=seed,
        sandbox=sandbox,
        concurrency=1 if model.startswith("local:") else None,  # one in-process model, one thread
    )
    console = report_console()
    console.print(
        f"[bold]stochbox demo[/]: can {model} sample from a random process? {len(ids)} scenarios, "
        f"N={n} answers each, natively and with a sandboxed Python tool"
    )
    outcome = with_progress(
        lambda hook: start_run(config, out, progress=hook, on_start=warn_at_start), out, quiet=False
    )
    run = load_run(out)
    backend = run.info.sandbox.get("backend", sandbox)
    console.print(f"{outcome.done} episodes stored in {out} (sandbox: {backend})")
    summary = demo_summary(run, model)
    if tables:
        print_report(build_report(out), per_scenario=True)
        if summary.comparison is not None:
            print_comparison(summary.comparison, console)
    print_demo(summary, console)
    report = write_html_report([out], out / "report.html")
    viewer = write_viewer(out, out / "trace.html")
    console.print(f"report: {report}   (KS@N curves, ECDF and bar plots; open in a browser)")
    console.print(f"traces: {viewer.path}   (every model call, tool call and sandbox run)")
    console.print("next, a real provider:  stochbox demo --model openai:gpt-4o-mini   (OPENAI_API_KEY; --base-url for vLLM, Ollama)")
    console.print(f"  then: stochbox run --pack canonical --mode both --n 100 ...; stochbox audit {out}; --tables for the long tables")

def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
