"""The SQLite run store: one committed row per episode, no duplicates, clear errors."""

from __future__ import annotations

import sqlite3

import pytest

from stochbox.errors import RunStoreError
from stochbox.results import EpisodeRecord, EpisodeStatus, Mode
from stochbox.run.store import STORE_FILE, RunStore


def _record(index: int, scenario: str = "coin", mode: Mode = Mode.native) -> EpisodeRecord:
    return EpisodeRecord(
        run_id="r1",
        episode_id=f"m/{mode.value}/{scenario}/{index}",
        scenario=scenario,
        model="m",
        mode=mode,
        index=index,
        seed=index,
        n_requested=1,
        samples=["heads"],
        status=EpisodeStatus.ok,
    )


def test_put_commits_each_episode_and_reads_back_in_order(tmp_path):
    with RunStore(tmp_path, create=True) as store:
        for i in (2, 0, 1):
            store.put(_record(i))
        store.put(_record(0, mode=Mode.tool))
        # another connection sees every put without any explicit flush or close
        other = sqlite3.connect(tmp_path / STORE_FILE)
        assert other.execute("SELECT COUNT(*) FROM episodes").fetchone()[0] == 4
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        other.close()
        got = [(r.mode.value, r.index) for r in store.records()]
    assert got == [("native", 0), ("native", 1), ("native", 2), ("tool", 0)]
    with RunStore(tmp_path) as again:
        assert again.done_ids() == {"m/native/coin/0", "m/native/coin/1", "m/native/coin/2", "m/tool/coin/0"}
        assert next(again.records()) == _record(0)


def test_storing_an_episode_twice_is_refused_and_keeps_the_first(tmp_path):
    with RunStore(tmp_path, create=True) as store:
        store.put(_record(0))
        dup = _record(0).model_copy(update={"samples": ["tails"]})
        with pytest.raises(RunStoreError, match="already stored"):
            store.put(dup)
        assert [r.samples for r in store.records()] == [["heads"]]


def test_missing_store_without_create_is_a_clear_error(tmp_path):
    with pytest.raises(RunStoreError, match="does not exist"):
        RunStore(tmp_path)


def test_unusable_folder_is_a_run_store_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the run folder should be")
    with pytest.raises(RunStoreError, match="cannot open"):
        RunStore(blocker, create=True)


def test_a_foreign_file_is_a_run_store_error_not_a_traceback(tmp_path):
    (tmp_path / STORE_FILE).write_text("this is not a database, just text " * 100)
    with pytest.raises(RunStoreError, match=STORE_FILE):
        RunStore(tmp_path)
