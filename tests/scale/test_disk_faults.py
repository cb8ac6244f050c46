"""Disk full and an unwritable run folder: a clear RunStoreError (exit 4), nothing stored is corrupted.

A real ``stochbox run`` subprocess writes into a tiny tmpfs (a real ENOSPC;
we are root in CI) or under RLIMIT_FSIZE (EFBIG, works anywhere), or resumes
a run folder remounted read-only (EROFS: root cannot write either, unlike a
chmod). Afterwards the store passes SQLite's integrity check, every stored
record validates, and a resume with room to write completes the run.
"""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from stochbox.run.store import RunStore

from stochbox.testing.openai_stub import StubServer

N = 300


def _run_args(stub: StubServer, pack: Path, out: Path) -> list[str]:
    return [
        sys.executable, "-m", "stochbox", "run", "--model", "openai:stub", "--base-url", stub.url, "--pack", str(pack),
        "--n", str(N), "--reference-n", "300", "--seed", "4", "--concurrency", "4", "--sandbox", "unsafe-subprocess",
        "--out", str(out), "-q",
    ]


def _env(shared_cache: Path) -> dict[str, str]:
    return {**os.environ, "STOCHBOX_CACHE_DIR": str(shared_cache)}


def _intact(run_dir: Path) -> int:
    """Integrity-check the store and validate every record; returns how many are stored."""
    db = sqlite3.connect(f"file:{run_dir / 'run.sqlite'}?mode=ro", uri=True)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
    with RunStore(run_dir) as store:
        records = list(store.records())
    assert len({r.episode_id for r in records}) == len(records)
    return len(records)


def _resume_completes(run_dir: Path, env: dict[str, str]) -> None:
    done = subprocess.run([sys.executable, "-m", "stochbox", "run", "--resume", str(run_dir), "-q"], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert _intact(run_dir) == N


def _one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 4, proc.stderr  # RunStoreError.exit_code
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


@pytest.fixture
def tmpfs(tmp_path):
    """Mount a tmpfs at a fresh folder (root only); yields (path, remount(options))."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); the RLIMIT_FSIZE test covers a full disk")

    def remount(options: str) -> None:
        subprocess.run(["mount", "-o", f"remount,{options}", str(mnt)], check=True)

    yield mnt, remount
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_disk_full_stops_with_a_clear_error_and_keeps_the_store(stub, unit_pack, shared_cache, tmpfs):
    mnt, remount = tmpfs
    out = mnt / "run"
    env = _env(shared_cache)
    proc = subprocess.run(_run_args(stub, unit_pack, out), capture_output=True, text=True, env=env, timeout=300)
    line = _one_error_line(proc)
    assert "No space left" in line or "full" in line, line
    assert str(out) in line
    stored = _intact(out)
    assert 0 < stored < N
    remount("size=64m")  # free space, then finish the run
    _resume_completes(out, env)


def test_file_size_limit_stops_with_a_clear_error_and_keeps_the_store(stub, unit_pack, shared_cache, tmp_path):
    out = tmp_path / "run"
    env = _env(shared_cache)

    def limit() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead of killing us
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    proc = subprocess.run(_run_args(stub, unit_pack, out), capture_output=True, text=True, env=env, timeout=300, preexec_fn=limit)
    line = _one_error_line(proc)
    assert "too large" in line or "disk" in line, line  # SQLite reports EFBIG as "disk I/O error"
    stored = _intact(out)
    assert 0 < stored < N
    _resume_completes(out, env)


def test_read_only_run_folder_is_refused_and_left_untouched(stub, unit_pack, shared_cache, tmpfs):
    mnt, remount = tmpfs
    out = mnt / "run"
    env = _env(shared_cache)
    subprocess.run(_run_args(stub, unit_pack, out), capture_output=True, text=True, env=env, timeout=300)  # stops when full
    stored = _intact(out)
    assert 0 < stored < N
    digest = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()}
    remount("ro")
    proc = subprocess.run([sys.executable, "-m", "stochbox", "run", "--resume", str(out), "-q"], capture_output=True, text=True, env=env)
    line = _one_error_line(proc)
    assert str(out) in line and ("Read-only" in line or "readonly" in line or "read-only" in line), line
    assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in out.iterdir()} == digest
    remount("rw,size=64m")
    assert _intact(out) == stored
    _resume_completes(out, env)
