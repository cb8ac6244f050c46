"""``stochbox scenarios import unpredictabench``: the paper's programs and questions as a pack."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

_SANDBOX_HELP = "Sandbox for the probe runs: auto (docker, else local jail), docker, local, unsafe-subprocess (NO isolation)."


def import_unpredictabench_cmd(
    code_dir: Path = typer.Argument(..., help="The paper's code folder (holds ground_truth_codes/ and realworld_mapping.json)."),
    out: Path = typer.Option(..., "--out", "-o", help="New pack folder to write (must not exist or be empty)."),
    questions: Optional[Path] = typer.Option(
        None, "--questions", "-q", help="Questions: data/ as prepare_data.py writes it, a questions.json, .jsonl or .parquet."
    ),
    name: Optional[str] = typer.Option(None, "--name", help="Pack name (default: the folder name); ids are <name>-<uid>."),
    task: Optional[list[str]] = typer.Option(None, "--task", help="Only this task group, e.g. shuffling_human (repeatable)."),
    sandbox: str = typer.Option("auto", "--sandbox", help=_SANDBOX_HELP),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, max=256, help="Programs probed at once (one sandbox server each)."),
    as_json: bool = typer.Option(False, "--json", help="Print the import report as JSON on stdout."),
) -> None:
    """Import UnpredictaBench's ground-truth programs (and questions) as a pack.

    Each program runs once in the sandbox; support, batch size, labels and
    items come from the paper's category and that run. A program that fails
    or prints something unusable is listed with its uid and the reason, and
    the rest is imported. Exit 0: all imported, 1: some left out, 2: nothing
    usable (nothing written). Details: stochbox.scenarios.unpredictabench.
    """
    from stochbox.sandbox import open_sandbox
    from stochbox.scenarios.unpredictabench import import_unpredictabench

    with open_sandbox(sandbox, pool_size=jobs) as sb:
        if not sb.isolating:
            typer.echo("warning: sandbox 'unsafe-subprocess' does not isolate; the paper's programs run unconfined", err=True)
        result = import_unpredictabench(code_dir, out, sandbox=sb, questions=questions, name=name, jobs=jobs, tasks=task)
    if as_json:
        typer.echo(json.dumps(result.model_dump(mode="json"), indent=2))
    for item in result.left_out:
        typer.echo(f"left out: {item.render()}", err=True)
    for note in result.warnings:
        typer.echo(f"warning: {note.uid}: {note.message}", err=True)
    total = sum(g["programs"] for g in result.by_group.values())
    if not as_json:
        for group, counts in sorted(result.by_group.items()):
            typer.echo(f"  {group:42s} {counts['imported']:4d} of {counts['programs']:4d}")
    if result.imported:
        typer.echo(
            f"imported {len(result.imported)} of {total} program(s) into {out} (pack '{result.pack}'); "
            f"probe runs took {result.probe_seconds:.1f} s with {jobs} at a time ({result.probe_exec_seconds:.1f} s of execution)",
            err=as_json,
        )
    else:
        typer.echo(f"error: no usable program under {code_dir}; nothing written", err=True)
    if result.left_out:
        typer.echo(f"{len(result.left_out)} program(s) left out (reasons above; also in {out}/import-report.json)", err=True)
    if result.imported and result.stand_in_prompts:
        typer.echo(
            f"note: {result.stand_in_prompts} scenario(s) have a stand-in prompt "
            + ("(no --questions): " if questions is None else "(no question with their uid): ")
            + "fine for truth, oracle and calibration runs; give --questions for model runs",
            err=True,
        )
    raise typer.Exit(result.exit_code)


def register(import_app: typer.Typer) -> None:
    import_app.command("unpredictabench")(import_unpredictabench_cmd)
