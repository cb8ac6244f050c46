"""``stochbox audit | trace | replay | view | export``: reading a run's trace.

Thin: the work is in :mod:`stochbox.traces.audit`, :mod:`stochbox.traces.transcript`,
:mod:`stochbox.traces.replay`, :mod:`stochbox.traces.viewer` and :mod:`stochbox.traces.export`.
Exit codes: 0 when done; 1 when ``audit --fail-on`` finds a listed flag or
``replay`` finds a difference (so both can gate CI); 2 for user mistakes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer
from rich.console import Console
from rich.table import Table

from stochbox.console import table_console
from stochbox.errors import ConfigError

if TYPE_CHECKING:  # stochbox.traces.audit loads the evaluators (scipy): imported by the commands that need it
    from stochbox.traces.audit import AuditReport

_RUN_DIR = typer.Argument(..., help="A run folder made by 'stochbox run'.")


def _console() -> Console:
    return table_console(width=160)


def print_audit(report: AuditReport, console: Console, *, max_rows: int = 200) -> None:
    console.print(f"[bold]audit[/] {report.run_id or report.run_dir}: {report.episodes} episodes, {report.episodes_flagged} flagged")
    if not report.flags:
        console.print("[green]no flags[/]")
        return
    summary = Table("flag", "count", "episodes", title="summary")
    for c in report.summary:
        summary.add_row(c.flag.value, str(c.count), str(c.episodes))
    console.print(summary)
    rows = Table("flag", "episode", "step", "detail", title="flags (episode, step: the trace event behind each)")
    for f in report.flags[:max_rows]:
        rows.add_row(f.flag.value, f.episode_id or "(run)", "" if f.step is None else str(f.step), f.detail)
    console.print(rows)
    if len(report.flags) > max_rows:
        console.print(f"... {len(report.flags) - max_rows} more (use --json for all)")


def audit_command(
    run_dir: Path = _RUN_DIR,
    as_json: bool = typer.Option(False, "--json", help="Print the audit as JSON (stable field names)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="Comma-separated flag names; exit 1 if any is present."),
) -> None:
    """Flag episodes that did not earn their samples honestly (see docs/trace-schema.md, 'Audit flags')."""
    from stochbox.traces.audit import audit_run, parse_flag_names

    gate = parse_flag_names(fail_on) if fail_on else []
    report = audit_run(run_dir)
    if as_json:
        typer.echo(report.to_json(), nl=False)
    else:
        print_audit(report, _console())
    hit = sorted({f.flag.value for f in report.flags} & {g.value for g in gate})
    if hit:
        typer.echo(f"audit failed: {', '.join(hit)} present", err=True)
        raise typer.Exit(1)


def trace_command(
    run_dir: Path = _RUN_DIR,
    episode: str = typer.Option(..., "--episode", "-e", help="Episode id (model/mode/scenario/index)."),
) -> None:
    """Print one episode as a readable transcript: prompts, replies, tool calls, code, outputs, verdict."""
    from stochbox.traces.audit import audit_trace
    from stochbox.traces.run_trace import load_run_trace
    from stochbox.traces.transcript import print_transcript

    run = load_run_trace(run_dir)
    ep = run.episode(episode)
    print_transcript(ep, audit_trace(run).for_episode(episode), console=_console())


def replay_command(
    run_dir: Path = _RUN_DIR,
    episode: Optional[list[str]] = typer.Option(None, "--episode", "-e", help="Only these episodes (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the replay report as JSON."),
    sandbox: Optional[str] = typer.Option(None, "--sandbox", help="Backend for the fresh sandbox (default: the run's)."),
    concurrency: int = typer.Option(4, "--concurrency", "-c", min=1, max=64, help="Replays in flight at once."),
) -> None:
    """Re-run recorded executions and episodes (model replies from the trace; no API calls); exit 1 on any difference."""
    from stochbox.sandbox.base import backend_names
    from stochbox.traces.replay import replay_run

    if sandbox is not None and sandbox not in backend_names():
        raise ConfigError(f"--sandbox {sandbox}: use {', '.join(backend_names())}")
    report = replay_run(run_dir, episode_ids=episode or None, sandbox=sandbox, concurrency=concurrency)
    if as_json:
        typer.echo(report.to_json(), nl=False)
    else:
        console = _console()
        table = Table("episode", "step", "tool", "seed", "result", title=f"executions (sandbox {report.sandbox})")
        for e in report.executions:
            table.add_row(e.episode_id, str(e.step), e.tool or "", str(e.seed), "[green]identical[/]" if e.identical else f"[red]different[/]: {e.detail}")
        console.print(table)
        eps = Table("episode", "result", "samples", title="episodes (model replies from the trace)")
        for r in report.episodes:
            result = "skipped: " + r.detail if not r.replayed else ("[green]identical[/]" if r.identical else f"[red]different[/]: {r.detail}")
            eps.add_row(r.episode_id, result, str(r.replayed_samples)[:60])
        console.print(eps)
        replayed = [r for r in report.episodes if r.replayed]
        console.print(
            f"{report.executions_identical}/{len(report.executions)} executions identical; "
            f"{report.episodes_identical}/{len(replayed)} episodes identical"
        )
    if not report.all_identical:
        raise typer.Exit(1)


def view_command(
    run_dir: Path = _RUN_DIR,
    html: Path = typer.Option(..., "--html", help="HTML file to write (one self-contained file)."),
) -> None:
    """Write a static HTML trace viewer (filters, paged episode list, one episode as a timeline)."""
    from stochbox.traces.viewer import write_viewer

    stats = write_viewer(run_dir, html)
    typer.echo(f"wrote {stats.path} ({stats.bytes / 1e6:.1f} MB; {stats.episodes} episodes, {stats.events} events)", err=True)


def export_command(
    run_dir: Path = _RUN_DIR,
    fmt: str = typer.Option("parquet", "--format", "-f", help="parquet | csv | inspect (an Inspect eval log)."),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Folder for episodes.* and events.* (default RUN_DIR/export); with inspect: the .eval file (default RUN_DIR/run.eval)."
    ),
) -> None:
    """Export the run as two tables, episodes and events (the 'export' extra), or as an Inspect eval log (the 'inspect' extra)."""
    from stochbox.traces.export import export_inspect, export_run

    if fmt == "inspect":
        typer.echo(str(export_inspect(run_dir, out)))
        return
    if fmt not in ("parquet", "csv"):
        raise ConfigError(f"--format {fmt}: use parquet or csv (two tables), or inspect (an Inspect eval log)")
    for path in export_run(run_dir, fmt, out):  # type: ignore[arg-type]
        typer.echo(str(path))


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)
    app.command("trace")(trace_command)
    app.command("replay")(replay_command)
    app.command("view")(view_command)
    app.command("export")(export_command)
