"""The run store: ``run.sqlite``, one row per finished episode.

Contract:

* SQLite in WAL mode; :meth:`RunStore.put` commits one episode per
  transaction, so after a crash (even ``kill -9``) every episode that ``put``
  returned for is stored and nothing half-written is visible.
* ``episode_id`` is the primary key: storing the same episode twice is an
  error (:class:`RunStoreError`), so a resumed run can never duplicate work.
* The row holds the :class:`~stochbox.results.EpisodeRecord` as JSON plus
  indexed copies of (model, mode, scenario, idx, status) for queries;
  :meth:`records` returns validated records in a deterministic order.
* Every OS/SQLite failure (unwritable folder, disk full, a file that is not a
  run store) raises :class:`RunStoreError` with the path; a failed write rolls
  back and leaves stored episodes intact.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

from stochbox.errors import RunStoreError
from stochbox.results import EpisodeRecord

STORE_FILE = "run.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS episodes (
    episode_id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    mode TEXT NOT NULL,
    scenario TEXT NOT NULL,
    idx INTEGER NOT NULL,
    status TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS episodes_by_group ON episodes (model, mode, scenario, idx);
CREATE INDEX IF NOT EXISTS episodes_by_status ON episodes (status);
"""


_INSERT = "INSERT INTO episodes (episode_id, model, mode, scenario, idx, status, record) VALUES (?, ?, ?, ?, ?, ?, ?)"


def _fail(path: Path, what: str, exc: BaseException) -> RunStoreError:
    detail = str(exc) or type(exc).__name__
    hint = f"check free disk space and that {path.parent} is writable; stored episodes are intact"
    if what.startswith("store"):
        hint += f"; continue with: stochbox run --resume {path.parent}"
    return RunStoreError(f"run store {path}: cannot {what}: {detail}", hint=hint)


class RunStore:
    """Open (creating if asked) the store in ``run_dir``. Use from one thread; close when done."""

    def __init__(self, run_dir: Path | str, *, create: bool = False) -> None:
        self.path = Path(run_dir) / STORE_FILE
        if not create and not self.path.is_file():
            raise RunStoreError(f"{self.path} does not exist", hint="is this a stochbox run folder?")
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.executescript(_SCHEMA)
            self._db.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
            (version,) = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise _fail(self.path, "open", exc) from None
        if int(version) != SCHEMA_VERSION:
            raise RunStoreError(f"{self.path} has store schema {version}; this stochbox reads {SCHEMA_VERSION}")

    def put(self, record: EpisodeRecord) -> None:
        """Store one finished episode and commit. RunStoreError if it is already stored or the write fails."""
        row = (
            record.episode_id,
            record.model,
            record.mode.value,
            record.scenario,
            record.index,
            record.status.value,
            record.model_dump_json(),
        )
        try:
            # One statement in autocommit mode is one transaction: committed (WAL frames written)
            # when execute returns, rolled back whole on any error; no BEGIN/COMMIT round trips.
            self._db.execute(_INSERT, row)
        except sqlite3.IntegrityError:
            raise RunStoreError(f"episode {record.episode_id} is already stored in {self.path}") from None
        except sqlite3.Error as exc:
            raise _fail(self.path, f"store episode {record.episode_id}", exc) from None

    def done_ids(self) -> set[str]:
        try:
            return {row[0] for row in self._db.execute("SELECT episode_id FROM episodes")}
        except sqlite3.Error as exc:
            raise _fail(self.path, "read", exc) from None

    def count(self) -> int:
        try:
            return self._db.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
        except sqlite3.Error as exc:
            raise _fail(self.path, "read", exc) from None

    def records(self) -> Iterator[EpisodeRecord]:
        """Stored episodes ordered by (model, mode, scenario, index)."""
        try:
            rows = self._db.execute("SELECT record FROM episodes ORDER BY model, mode, scenario, idx, episode_id").fetchall()
        except sqlite3.Error as exc:
            raise _fail(self.path, "read", exc) from None
        for (raw,) in rows:
            yield EpisodeRecord.model_validate_json(raw)

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.Error:
            pass

    def __enter__(self) -> "RunStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
