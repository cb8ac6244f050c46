"""``stochbox scenarios list|show|validate|import``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from stochbox.console import table_console
from stochbox.errors import ScenarioError
from stochbox.scenarios import find_scenario, resolve_packs, validate_path

scenarios_app = typer.Typer(help="List, show and validate scenario packs.", no_args_is_help=True)
console = table_console()


def _counts(scenarios: list) -> dict:
    return {
        "total": len(scenarios),
        "by_pack": dict(Counter(s.pack for s in scenarios)),
        "by_kind": dict(Counter(s.kind.value for s in scenarios)),
        "by_support": dict(Counter(s.support.value for s in scenarios)),
        "by_tag": dict(sorted(Counter(t for s in scenarios for t in s.tags).items())),
    }


@scenarios_app.command("list")
def list_cmd(
    pack: Optional[list[str]] = typer.Option(None, "--pack", "-p", help="Built-in pack name or folder (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: scenarios and counts."),
) -> None:
    """List scenarios with their kind, support and tags."""
    packs = resolve_packs(pack)
    scenarios = [s for p in packs for s in p.scenarios]
    if as_json:
        out = {
            "packs": [
                {"name": p.name, "version": p.manifest.version, "path": str(p.path), "scenarios": len(p.scenarios)}
                for p in packs
            ],
            "scenarios": [
                {
                    "id": s.id,
                    "pack": s.pack,
                    "title": s.title,
                    "kind": s.kind.value,
                    "support": s.support.value,
                    "answer_format": s.answer_format.type.value,
                    "tags": s.tags,
                }
                for s in scenarios
            ],
            "counts": _counts(scenarios),
        }
        typer.echo(json.dumps(out, indent=2))
        return
    table = Table(title=f"{len(scenarios)} scenarios in {len(packs)} pack(s)")
    for col in ("pack", "id", "kind", "support", "title"):
        table.add_column(col)
    for s in scenarios:
        table.add_row(s.pack or "", s.id, s.kind.value, s.support.value, s.title)
    console.print(table)


@scenarios_app.command("show")
def show_cmd(
    scenario_id: str = typer.Argument(..., help="Scenario id."),
    pack: Optional[list[str]] = typer.Option(None, "--pack", "-p"),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Show one scenario: prompt, answer format, ground-truth program."""
    sc = find_scenario(scenario_id, pack)
    if as_json:
        typer.echo(sc.model_dump_json(indent=2))
        return
    console.rule(f"[bold]{sc.id}[/] ({sc.pack}) — {sc.title}")
    console.print(f"kind: {sc.kind.value}   support: {sc.support.value}   answer: {sc.answer_format.model_dump(mode='json', exclude_none=True)}")
    console.print(f"tags: {', '.join(sc.tags)}")
    console.print("[bold]prompt[/]")
    console.print(sc.prompt, markup=False)
    if sc.notes:
        console.print("[bold]modelling notes[/]")
        console.print(sc.notes, markup=False)
    console.print(f"[bold]ground truth[/] (batch={sc.ground_truth.batch}, timeout {sc.ground_truth.timeout_s}s)")
    console.print(sc.ground_truth.code, markup=False)


@scenarios_app.command("validate")
def validate_cmd(path: Path = typer.Argument(..., help="A pack folder or one scenario file.")) -> None:
    """Validate a pack folder or scenario file; prints every problem, exits 2 if any."""
    errors = validate_path(path)
    for err in errors:
        typer.echo(f"error: {err}", err=True)
    if errors:
        raise typer.Exit(2)
    typer.echo(f"ok: {path}")


import_app = typer.Typer(help="Bring external suites in as scenario packs.", no_args_is_help=True)
scenarios_app.add_typer(import_app, name="import")


@import_app.command("jsonl")
def import_jsonl_cmd(
    file: Path = typer.Argument(..., help="JSON lines: one scenario per line (prompt, code, support, answer_format, ...)."),
    out: Path = typer.Option(..., "--out", "-o", help="New pack folder to write (must not exist or be empty)."),
    name: Optional[str] = typer.Option(None, "--name", help="Pack name (default: the folder name); ids get it as prefix."),
) -> None:
    """Turn a JSON-lines file into a pack folder. Exit 0: all imported, 1: some lines skipped, 2: nothing usable.

    Each bad line is reported on one line (file:line: field: problem); the good ones are still written.
    Fields and the fixed_batch option for programs that print a fixed-size list: see stochbox.scenarios.importer.
    """
    from stochbox.scenarios.importer import import_jsonl

    result = import_jsonl(file, out, name=name)
    for problem in result.problems:
        typer.echo(f"skipped: {problem.render(str(file))}", err=True)
    if result.imported:
        typer.echo(f"imported {len(result.imported)} scenario(s) into {out} (pack '{result.pack}')", err=False)
    else:
        typer.echo(f"error: no usable scenario in {file}; nothing written", err=True)
    if result.problems:
        typer.echo(f"{len(result.problems)} line(s) skipped", err=True)
    raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    from stochbox.cli import ub_import_cmd

    ub_import_cmd.register(import_app)
    app.add_typer(scenarios_app, name="scenarios")


__all__ = ["register", "scenarios_app", "ScenarioError"]
