"""How many generated cases the fuzz tests ran, printed in pytest's terminal summary (with or without ``-s``).

A fuzz test calls :func:`count` once per generated case; ``tests/conftest.py``
prints the totals per test after the run, so CI logs show how much was
fuzzed. The per-run budgets (``max_examples``) are in the test modules and
docs/models.md.
"""

from __future__ import annotations

from collections import Counter

CASES: Counter[str] = Counter()


def count(name: str, n: int = 1) -> None:
    CASES[name] += n


def summary_lines() -> list[str]:
    if not CASES:
        return []
    lines = [f"fuzz: {sum(CASES.values())} generated cases in {len(CASES)} fuzz tests"]
    lines += [f"  {n:6d}  {name}" for name, n in sorted(CASES.items())]
    return lines
