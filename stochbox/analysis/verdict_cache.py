"""Verdicts cached in the run folder, so a second report of the same run reruns no test.

Contract:

* One SQLite file per run folder, ``verdicts.sqlite`` (:data:`CACHE_FILE`):
  rows ``(key, version, result)``, ``result`` a
  :class:`~stochbox.evaluators.models.ScenarioTestResult` as JSON. Writes are
  one transaction each (all of an evaluation's new verdicts or none), so a
  crash or a concurrent report never leaves a half-written entry.
* :func:`verdict_key` covers everything a verdict depends on: the scenario
  (its whole frozen definition: support, answer format, ...), the N sample
  slots (``None`` for missing ones), the reference (a digest of its bytes),
  model, mode, N, preset and alpha, and :func:`evaluator_version`. A
  changed sample set, reference, scenario, preset, alpha or test is a miss.
* :func:`evaluator_version` is a digest of the source of every module of the
  evaluators package (subfolders included) and of the answer-format parser, plus the numpy and
  scipy versions: any edit of a test (a new KS p-value, a new preset) or of
  the libraries it calls invalidates every entry without anyone remembering
  to bump a number. Rows of other versions are deleted at the next write.
* The cache is an optimisation only: a run folder that cannot be written,
  or a damaged or foreign file, means verdicts are computed as if there were
  no cache (never an error, never a wrong result: an entry that does not
  validate is recomputed).
"""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import sys
from collections.abc import Sequence
from importlib.metadata import version
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from stochbox.evaluators import dispatch
from stochbox.evaluators.models import Preset, ScenarioTestResult
from stochbox.scenarios.samples import coerce_sample
from stochbox.scenarios.models import Scenario

CACHE_FILE = "verdicts.sqlite"
FORMAT_VERSION = 1

_SCHEMA = "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, version TEXT NOT NULL, result TEXT NOT NULL)"


def evaluator_sources() -> list[Path]:
    """Every file whose code can change a verdict: the evaluators package and the answer-format parser."""
    package = Path(dispatch.__file__).parent  # the tests' package, wherever this module lives
    return sorted(package.rglob("*.py")) + [Path(sys.modules[coerce_sample.__module__].__file__ or "")]


@functools.lru_cache(maxsize=1)
def evaluator_version() -> str:
    """Digest of :func:`evaluator_sources` and the numpy/scipy versions (computed once per process)."""
    h = hashlib.sha256(f"verdicts v{FORMAT_VERSION}".encode())
    for path in evaluator_sources():
        h.update(path.name.encode() + b"\x00" + path.read_bytes() + b"\x00")
    for lib in ("numpy", "scipy"):
        h.update(f"{lib}={version(lib)}\x00".encode())
    return h.hexdigest()[:32]


def scenario_digest(scenario: Scenario) -> str:
    return hashlib.sha256(scenario.model_dump_json().encode()).hexdigest()


def verdict_key(
    scenario_digest: str,
    samples: Sequence[Any],
    reference_digest: str,
    *,
    model: str,
    mode: str,
    preset: Preset,
    kind: str = "verdict",
) -> str:
    """The cache key of one verdict (see the module contract); N is ``len(samples)``. ``kind`` tells
    apart results of the same inputs that carry more (``"regularity"``: with the too-regular diagnostic)."""
    h = hashlib.sha256()
    parts = (evaluator_version(), kind, scenario_digest, reference_digest, model, mode, preset.name, repr(preset.alpha), str(len(samples)))
    for part in parts:
        h.update(part.encode() + b"\x00")
    h.update(json.dumps(list(samples), separators=(",", ":"), ensure_ascii=False, default=str).encode())
    return h.hexdigest()


class VerdictCache:
    """The verdict cache of one run folder (read once when opened; written per :meth:`put_many`)."""

    def __init__(self, run_dir: Path | str) -> None:
        self.path = Path(run_dir) / CACHE_FILE
        self.version = evaluator_version()
        self._rows = self._read()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=10)
        db.execute(_SCHEMA)
        return db

    def _read(self) -> dict[str, str]:
        if not self.path.is_file():
            return {}
        try:
            db = self._connect()
            try:
                return dict(db.execute("SELECT key, result FROM verdicts WHERE version = ?", (self.version,)))
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            return {}

    def __len__(self) -> int:
        return len(self._rows)

    def get(self, key: str) -> ScenarioTestResult | None:
        raw = self._rows.get(key)
        if raw is None:
            return None
        try:
            return ScenarioTestResult.model_validate_json(raw)
        except ValidationError:
            return None

    def put_many(self, items: Sequence[tuple[str, ScenarioTestResult]]) -> None:
        """Store new verdicts in one transaction (and drop other versions' rows); silently skipped if the
        folder cannot be written."""
        rows = [(key, self.version, r.model_dump_json()) for key, r in items]
        try:
            db = self._connect()
            try:
                with db:  # one transaction: all rows or none
                    db.execute("DELETE FROM verdicts WHERE version != ?", (self.version,))
                    db.executemany("INSERT OR REPLACE INTO verdicts (key, version, result) VALUES (?, ?, ?)", rows)
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            return
        self._rows.update((key, raw) for key, _, raw in rows)
