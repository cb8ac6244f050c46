"""``stochbox report``: the KS@N table (text, JSON, HTML) of a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def report_command(
    run_dir: Path = typer.Argument(..., help="A run folder made by 'stochbox run'."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON (stable field names, deterministic)."),
    alpha: Optional[float] = typer.Option(None, "--alpha", help="Significance level (default: the run's, else the preset's)."),
    preset: Optional[str] = typer.Option(None, "--preset", help="stochbox | unpredictabench | unpredictabench-mc | unpredictabench-v1 (default: the run's)."),
    html: Optional[Path] = typer.Option(None, "--html", help="Also write a static HTML report to this file."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help="Backend to regenerate a reference missing from the truth cache."),
    by_tag: Optional[list[str]] = typer.Option(None, "--by-tag", help="Also KS@N per value of tags PREFIX:value, e.g. --by-tag group (repeatable)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recompute every verdict; neither read nor write the run's verdicts.sqlite."),
) -> None:
    """Evaluate a run: KS@N per model and mode, and per-scenario tests."""
    from stochbox.analysis.report import build_report, print_report, write_html  # evaluators: scipy

    by_tag = by_tag or []
    report = build_report(run_dir, alpha=alpha, preset=preset, sandbox=sandbox, by_tag=by_tag, use_cache=not no_cache)
    if as_json:
        typer.echo(report.to_json(), nl=False)
    else:
        print_report(report)
    if html is not None:
        path = write_html([run_dir], html, alpha=alpha, preset=preset, sandbox=sandbox, by_tag=by_tag, use_cache=not no_cache)
        typer.echo(f"wrote {path}", err=True)


def register(app: typer.Typer) -> None:
    app.command("report")(report_command)
