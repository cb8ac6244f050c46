"""``stochbox sandbox exec|check|cleanup|build-image``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from stochbox.console import table_console
from stochbox.errors import ConfigError
from stochbox.sandbox import TOOL_OUTPUT_CAP, SandboxSpec, open_sandbox
from stochbox.sandbox.base import backend_names, backends_help

sandbox_app = typer.Typer(help="Run code in the sandbox, self-test its containment, manage its image.", no_args_is_help=True)
console = table_console()

_BACKEND_HELP = backends_help() + "."


def _spec(backend: str, **kw: object) -> SandboxSpec:
    if backend not in backend_names():
        raise ConfigError(f"--sandbox: unknown backend '{backend}'", hint=f"use {', '.join(backend_names())}")
    return SandboxSpec(backend=backend, **kw)


@sandbox_app.command("exec")
def exec_cmd(
    file: Optional[Path] = typer.Argument(None, help="Python file to run (or use -c)."),
    code: Optional[str] = typer.Option(None, "-c", help="Code to run."),
    backend: str = typer.Option("auto", "--sandbox", help=_BACKEND_HELP),
    timeout: float = typer.Option(10.0, "--timeout", min=0.001, help="Wall-clock limit in seconds."),
    seed: int = typer.Option(0, "--seed", min=0, help="Seed for random and numpy (replays reproduce)."),
    output_cap: int = typer.Option(TOOL_OUTPUT_CAP, "--output-cap", min=1, help="Bytes kept of stdout and of stderr."),
    as_json: bool = typer.Option(False, "--json", help="Print the ExecResult as JSON."),
) -> None:
    """Run code once in the sandbox and print what it did."""
    if (file is None) == (code is None):
        raise ConfigError("give exactly one of FILE or -c CODE")
    if file is not None:
        try:
            code = file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{file}: cannot read ({exc.strerror})") from None
    if seed >= 2**63:
        raise ConfigError("--seed must be below 2**63")
    assert code is not None
    with open_sandbox(_spec(backend)) as sb:
        res = sb.execute(code, timeout_s=timeout, seed=seed, output_cap=output_cap)
    if as_json:
        typer.echo(json.dumps(res.model_dump(), indent=2))
    else:
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
        notes = [f"backend={res.backend}", f"seed={res.seed}", f"exit={res.exit_code}", f"{res.duration_s * 1000:.1f} ms"]
        if res.truncated:
            notes.append("OUTPUT TRUNCATED")
        if res.killed_reason:
            notes.append(f"killed: {res.killed_reason}")
        if res.sandbox_error:
            notes.append(f"sandbox error: {res.sandbox_error}")
        typer.echo("[" + ", ".join(notes) + "]", err=True)
    raise typer.Exit(0 if res.ok else 1)


@sandbox_app.command("check")
def check_cmd(
    backend: str = typer.Option("auto", "--sandbox", help=_BACKEND_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print results as JSON."),
) -> None:
    """Run the containment battery; exit 1 if anything escapes."""
    from stochbox.sandbox.check import run_battery

    if backend == "unsafe-subprocess":
        raise ConfigError(
            "unsafe-subprocess is unconfined by design; the battery would run a fork bomb and a memory bomb on this machine",
            hint="check docker or local instead",
        )
    spec = _spec(backend, pool_size=1)
    opened: dict = {}

    def _open():
        opened["sb"] = sb = open_sandbox(spec)
        opened["describe"] = sb.describe()
        return sb

    results = run_battery(_open)
    failed = [r for r in results if not r.passed]
    described = opened.get("describe", {})
    if as_json:
        typer.echo(json.dumps({"sandbox": described, "passed": not failed, "checks": [r.model_dump() for r in results]}, indent=2))
    else:
        table = Table(title=f"sandbox check: {described.get('backend', backend)}")
        for col in ("check", "result", "what", "observed"):
            table.add_column(col, overflow="fold")
        for r in results:
            table.add_row(r.name, "[green]contained[/]" if r.passed else "[red]ESCAPED[/]", r.what, r.detail)
        console.print(table)
        layers = ", ".join(f"{l['name']}={'on' if l['active'] else 'OFF'}" for l in described.get("layers", []))
        console.print(f"layers: {layers}")
        console.print(f"{len(results) - len(failed)}/{len(results)} contained" + (f"; escaped: {', '.join(r.name for r in failed)}" if failed else ""))
    raise typer.Exit(1 if failed else 0)


@sandbox_app.command("cleanup")
def cleanup_cmd() -> None:
    """Remove sandbox containers left behind by crashed runs."""
    from stochbox.sandbox.docker_backend import cleanup_orphans

    typer.echo(f"removed {cleanup_orphans()} orphaned sandbox container(s)")


@sandbox_app.command("build-image")
def build_image_cmd(
    tag: str = typer.Option("stochbox-sandbox:latest", "--tag", help="Image tag to build."),
    method: str = typer.Option("auto", "--method", help="auto, dockerfile (needs a registry) or debootstrap (offline)."),
    mirror: Optional[str] = typer.Option(None, "--mirror", help="Debian mirror for the offline build."),
    fresh: bool = typer.Option(False, "--fresh", help="Ignore the cached root file system."),
) -> None:
    """Build the sandbox image (offline when no registry is reachable)."""
    from stochbox.sandbox.image import build_image

    if method not in ("auto", "dockerfile", "debootstrap"):
        raise ConfigError(f"--method: unknown method '{method}'", hint="use auto, dockerfile or debootstrap")
    built = build_image(tag, method, mirror=mirror, fresh=fresh)  # type: ignore[arg-type]
    typer.echo(f"built {built.tag} ({built.method}, {built.size_bytes / 1e6:.0f} MB) in {built.duration_s:.0f}s")


def register(app: typer.Typer) -> None:
    app.add_typer(sandbox_app, name="sandbox")


__all__ = ["register", "sandbox_app"]
