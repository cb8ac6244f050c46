"""Looking into a run folder that another process is writing (kill, interrupt and resume tests).

Imported by name (``from run_probe import stored_count``), like ``machine_features``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path


def stored_count(run_dir: Path) -> int:
    """Episodes in ``run_dir``'s store right now, read-only so the writer is never disturbed;
    0 while the store does not exist yet or is busy for more than 0.2 s (callers poll)."""
    try:
        db = sqlite3.connect(f"file:{Path(run_dir) / 'run.sqlite'}?mode=ro", uri=True, timeout=0.2)
        try:
            return db.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
        finally:
            db.close()
    except sqlite3.Error:
        return 0
