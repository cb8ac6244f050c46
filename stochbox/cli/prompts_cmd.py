"""``stochbox prompts``: the prompt templates a run sends (see :mod:`stochbox.conditions.templates`)."""

from __future__ import annotations

from pathlib import Path

import typer

prompts_app = typer.Typer(help="Prompt templates: print the defaults, check a file.", no_args_is_help=True)


@prompts_app.command("show-default")
def show_default() -> None:
    """Print the built-in templates file (copy it, edit it, pass it with --prompts)."""
    from stochbox.conditions.templates import default_templates_path

    typer.echo(default_templates_path().read_text(encoding="utf-8"), nl=False)


@prompts_app.command("path")
def default_path() -> None:
    """Print where the built-in templates file is installed."""
    from stochbox.conditions.templates import default_templates_path

    typer.echo(str(default_templates_path()))


@prompts_app.command("check")
def check(file: Path = typer.Argument(..., help="A prompt templates file or a condition file.")) -> None:
    """Validate a templates (or condition) file; print its name, text digest and the templates it changes."""
    from stochbox.conditions import load_condition
    from stochbox.conditions.templates import default_templates

    condition = load_condition("check", file)
    templates = condition.prompts or default_templates()
    defaults = default_templates()
    changed = [k for k, v in templates.texts.items() if v != defaults.texts[k]]
    typer.echo(f"prompts {templates.name} (digest {templates.digest}); changed from the defaults: {', '.join(changed) or 'none'}")
    if condition.structured_output is not None or condition.model_options:
        typer.echo(f"structured_output {condition.structured_output or '(run-wide)'}; model_options {condition.model_options}")


def register(app: typer.Typer) -> None:
    app.add_typer(prompts_app, name="prompts")
