"""``stochbox demo``: the README's main job.

A real comparison in a few minutes on a laptop: one model (by default the
embedded SmolLM2-135M, no API key) answers a few built-in scenarios natively
and tool-assisted, with the same episode seeds, then the KS@N table and the
paired native-vs-tool comparison are printed. It is exactly
``stochbox run --mode both ...`` followed by ``stochbox compare DIR``; the run
folder is kept so ``report``, ``audit``, ``trace`` and ``view`` work on it.
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
) -> None:
    """Native vs tool-assisted on a few built-in scenarios, ending with the comparison table."""
    from stochbox.cli.eval_cmd import print_comparison
    from stochbox.cli.run_cmd import warn_unconfined, with_progress
    from stochbox.run.config import RunConfig
    from stochbox.evaluators import get_preset
    from stochbox.analysis import compare_runs, load_run
    from stochbox.analysis.report import build_report, print_report, report_console
    from stochbox.run.runner import start_run

    out = out_dir or Path("runs") / time.strftime("demo-%Y%m%d-%H%M%S")
    config = RunConfig.from_options(
        models=[model],
        packs=["canonical"],
        scenarios=list(scenario or DEMO_SCENARIOS),
        mode="both",
        n=n,
        seed=seed,
        sandbox=sandbox,
        concurrency=1 if model.startswith("local:") else None,  # one in-process model, one thread
    )
    console = report_console()
    console.print(f"[bold]stochbox demo[/]: {model}, native vs tool-assisted, N={n}, run folder {out}")
    outcome = with_progress(
        lambda hook: start_run(config, out, progress=hook, on_start=warn_unconfined), out, quiet=False
    )
    console.print(f"{outcome.done}/{outcome.total} episodes stored in {out}")
    print_report(build_report(out), per_scenario=True)
    for comparison in compare_runs([load_run(out)], get_preset(config.preset, config.alpha)):
        print_comparison(comparison, console)
    console.print(f"next: stochbox audit {out}  |  stochbox view {out} --html {out}/trace.html")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)
