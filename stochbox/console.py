"""The one way stochbox makes a rich Console for tables.

Contract: consoles never turn text into emoji (tags like ``family:normal``
contain emoji codes) and do not squeeze tables when output goes to a file or
pipe (a fixed width is used there).
"""

from __future__ import annotations

from rich.console import Console


def table_console(*, width: int = 200, stderr: bool = False) -> Console:
    probe = Console(emoji=False, stderr=stderr)
    return probe if probe.is_terminal else Console(width=width, emoji=False, stderr=stderr)
