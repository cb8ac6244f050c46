"""The ``stochbox`` command line.

Contract: user mistakes (:class:`~stochbox.errors.StochboxError`) print one
``error: ...`` line on stderr and exit with the error's ``exit_code`` (2 for
bad input); no traceback. Each command group lives in its own module and
registers itself through ``register(app)``; this module only assembles them.
"""

from __future__ import annotations

import importlib
import sys

import typer

from stochbox.errors import StochboxError

app = typer.Typer(
    name="stochbox",
    help="Measure whether language-model agents can sample from a random process.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# Modules that contribute commands; each defines ``register(app: typer.Typer)``.
_COMMAND_MODULES = (
    "stochbox.cli.scenarios_cmd",  # scenarios list/show/validate/import
    "stochbox.cli.sandbox_cmd",  # sandbox exec/check/cleanup/build-image
    "stochbox.cli.run_cmd",  # run, truth
    "stochbox.cli.demo_cmd",  # demo (the README's main job)
    "stochbox.cli.report_cmd",  # report
    "stochbox.cli.eval_cmd",  # compare, calibrate
    "stochbox.cli.audit_cmd",  # audit, trace, replay, view, export
    "stochbox.cli.prompts_cmd",  # prompts show-default/path/check
)

for _name in _COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def print_error(err: StochboxError) -> None:
    typer.echo(f"error: {err}", err=True)


def main(argv: list[str] | None = None) -> None:
    try:
        app(args=argv, standalone_mode=True)
    except StochboxError as err:
        print_error(err)
        sys.exit(err.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted; completed episodes are saved (resume with: stochbox run --resume DIR)", err=True)
        sys.exit(130)
