"""Run the ``stochbox`` command line in-process, as a test sees it."""

from __future__ import annotations

from typing import Any

from stochbox.cli import main


def run_cli(capsys: Any, *argv: str) -> tuple[int, str, str]:
    """``stochbox ARGV...`` in this process: (exit code, stdout, stderr), read through pytest's ``capsys``."""
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    out, err = capsys.readouterr()
    return code, out, err
