"""Ctrl-C during a run: finished episodes are stored, the message says how to resume, resume finishes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from run_probe import stored_count

from stochbox.run.runner import resume_run
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace


def test_sigint_keeps_finished_episodes_and_resume_completes(tiny_pack, sandbox_backend, sandbox, tmp_path, shared_cache):
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(
        [sys.executable, "-m", "stochbox", "run", "--model", "baseline:collapse", "--pack", str(tiny_pack),
         "--n", "600", "--reference-n", "500", "--out", str(run_dir), "--sandbox", sandbox_backend, "-q"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "STOCHBOX_CACHE_DIR": str(shared_cache)},
        # a shell's background jobs ignore SIGINT; give the child the default so Python maps it to KeyboardInterrupt
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    deadline = time.monotonic() + 120
    while stored_count(run_dir) < 20 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert f"stochbox run --resume {run_dir}" in err and "Traceback" not in err

    with RunStore(run_dir) as store:
        stored = store.count()
    events = list(read_trace(run_dir))
    assert 20 <= stored < 2400
    # every stored episode was announced, none twice, and the run is marked interrupted
    assert sum(e.event == "episode_end" for e in events) == stored
    assert [e.payload["status"] for e in events if e.event == "run_end"] == ["interrupted"]

    out = resume_run(run_dir, sandbox=sandbox)
    assert (out.status, out.done, out.ran) == ("complete", 2400, 2400 - stored)
