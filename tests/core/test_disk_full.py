"""A full disk mid-run: a clear RunStoreError, exit 4, and nothing already stored is damaged."""

from __future__ import annotations

import os
import resource
import signal
import sqlite3
import subprocess
import sys

from stochbox.reference.cache import ReferenceCache
from stochbox.run.runner import resume_run
from stochbox.scenarios import load_pack
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace

FILE_LIMIT = 256 * 1024  # bytes any one file may grow to in the child (RLIMIT_FSIZE): the "disk"


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of killing
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, FILE_LIMIT))


def test_disk_full_stops_the_run_cleanly_and_resume_finishes_it(tiny_pack, sandbox_backend, sandbox, tmp_path, shared_cache):
    coin = next(s for s in load_pack(tiny_pack).scenarios if s.id == "coin")
    ReferenceCache(shared_cache).get(coin, 200, 0, sandbox)  # the reference exists before the "disk" fills up
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "stochbox", "run", "--model", "baseline:collapse", "--pack", str(tiny_pack),
         "--scenario", "coin", "--n", "3000", "--reference-n", "200", "--out", str(run_dir), "--sandbox", sandbox_backend, "-q"],
        capture_output=True, text=True, timeout=300, preexec_fn=_limit_file_size,
        env={**os.environ, "STOCHBOX_CACHE_DIR": str(shared_cache)},
    )
    assert proc.returncode == 4, proc.stderr
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(run_dir) in lines[0], proc.stderr

    db = sqlite3.connect(run_dir / "run.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with RunStore(run_dir) as store:
        records = list(store.records())
    assert 0 < len(records) < 3000
    assert len({r.index for r in records}) == len(records)
    assert all(r.samples == [records[0].samples[0]] for r in records)

    out = resume_run(run_dir, sandbox=sandbox)
    assert (out.status, out.done) == ("complete", 3000)
    ends = [e.episode_id for e in read_trace(run_dir) if e.event == "episode_end"]
    assert len(ends) >= 3000 - 1  # the episode whose episode_end hit the full disk is stored but not announced
