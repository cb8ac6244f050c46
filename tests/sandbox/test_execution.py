"""Execution semantics of the fork-server, on the local jail and unconfined."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import threading
import time

import pytest

from stochbox.sandbox.base import ExecResult

RANDOM_PROBE = textwrap.dedent(
    """
    import json, random
    import numpy as np
    g1, g2 = np.random.default_rng(), np.random.default_rng()
    print(json.dumps([random.random(), np.random.rand(), g1.random(), g2.random(),
                      np.random.default_rng(5).random(), sorted({"a", "b", "c"}.__iter__().__next__())]))
    """
)


def _json(res: ExecResult):
    assert res.ok, (res.stderr, res.sandbox_error)
    return json.loads(res.stdout)


def test_same_seed_replays_exactly_and_seeds_differ(sandbox):
    a = _json(sandbox.execute(RANDOM_PROBE, seed=2**62 + 12345))
    b = _json(sandbox.execute(RANDOM_PROBE, seed=2**62 + 12345))
    c = _json(sandbox.execute(RANDOM_PROBE, seed=2**62 + 12346))
    assert a == b
    assert a[:4] != c[:4]
    assert a[2] != a[3], "two unseeded default_rng() calls must give independent streams"
    assert a[4] == c[4], "an explicitly seeded generator ignores the execution seed"


def test_seeding_matches_numpy_reference(sandbox):
    """The documented seeding: legacy state from [lo32, hi32], default_rng() from SeedSequence(seed).spawn."""
    import random

    import numpy as np

    seed = 987654321987654321
    got = _json(sandbox.execute("import json, random, numpy as np; print(json.dumps([random.random(), np.random.rand(), np.random.default_rng().random()]))", seed=seed))
    np.random.seed([seed & 0xFFFFFFFF, seed >> 32])
    want = [random.Random(seed).random(), np.random.rand(), np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0]).random()]
    assert got == pytest.approx(want, rel=0, abs=0)


def test_result_carries_seed_backend_and_globals(sandbox):
    res = sandbox.execute("print(N * 2, __name__)", seed=77, globals_={"N": 21})
    assert (res.stdout, res.seed, res.backend, res.exit_code) == ("42 __main__\n", 77, sandbox.name, 0)


def test_user_errors_are_results_not_exceptions(sandbox):
    syntax = sandbox.execute("def (:")
    assert syntax.exit_code == 1 and "SyntaxError" in syntax.stderr and syntax.sandbox_error is None
    boom = sandbox.execute("raise KeyError('k')")
    assert boom.exit_code == 1 and "KeyError" in boom.stderr and '"<snippet>"' in boom.stderr
    assert sandbox.execute("import sys; sys.exit(3)").exit_code == 3
    assert sandbox.execute("import os; os.kill(os.getpid(), 9)").exit_code == -9


def test_output_is_capped_and_flagged(sandbox):
    res = sandbox.execute("print('a' * 5000); import sys; sys.stderr.write('b' * 10)", output_cap=1000)
    assert res.truncated and res.stdout == "a" * 1000 and res.stderr == "b" * 10
    whole = sandbox.execute("print('a' * 999)", output_cap=1000)
    assert not whole.truncated and whole.stdout == "a" * 999 + "\n"


def test_room_for_ten_thousand_values(sandbox):
    res = sandbox.execute("import numpy as np\nfor x in np.random.rand(10000): print(x)", output_cap=32 << 20)
    assert res.ok and not res.truncated and len(res.stdout.splitlines()) == 10000


def test_timeout_kills_a_setsid_grandchild(sandbox):
    code = textwrap.dedent(
        """
        import os, sys, time
        r, w = os.pipe()
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.write(w, str(os.getpid()).encode()); os.close(w)
                while True: pass
            os._exit(0)
        os.close(w)
        print(int(os.read(r, 32)), flush=True)
        time.sleep(60)
        """
    )
    t0 = time.monotonic()
    res = sandbox.execute(code, timeout_s=1.5)
    assert res.timed_out and res.killed_reason == "timeout"
    assert time.monotonic() - t0 < 10  # killed on time, not after the 60 s sleep
    grandchild = int(res.stdout)
    probe = sandbox.execute(f"import os\ntry:\n    os.kill({grandchild}, 0); print('alive')\nexcept OSError:\n    print('gone')")
    assert probe.stdout.strip() == "gone"
    if sandbox.name == "unsafe-subprocess":  # unconfined: the pid is a host pid, check from here too
        with pytest.raises(ProcessLookupError):
            os.kill(grandchild, 0)


def test_memory_exhaustion_is_reported(sandbox):
    res = sandbox.execute("x = bytearray(600 << 20)")  # memory_mb=256 in these fixtures
    assert res.exit_code == 1 and res.killed_reason == "memory" and "MemoryError" in res.stderr
    assert sandbox.execute("print('ok')").ok


def _server_pid(sandbox) -> int:
    channel = sandbox.pool.servers[0]._channel
    return channel.proc.pid


def test_killed_server_gives_a_result_then_restarts(sandbox):
    sandbox.execute("pass")  # make sure a server is up
    pid = _server_pid(sandbox)
    box: list[ExecResult] = []
    worker = threading.Thread(target=lambda: box.append(sandbox.execute("import time; time.sleep(30)", timeout_s=40)))
    worker.start()
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)
    worker.join(timeout=20)
    assert box, "execute did not return after its server was killed"
    lost = box[0]
    assert lost.exit_code is None and lost.killed_reason == "server_crash" and lost.sandbox_error
    assert not lost.ok
    after = sandbox.execute("print('back')")
    assert after.ok and after.stdout == "back\n"
    assert _server_pid(sandbox) != pid


def test_server_killed_while_idle_is_replaced_without_a_failed_execution(sandbox):
    sandbox.execute("pass")
    pid = _server_pid(sandbox)
    os.kill(pid, signal.SIGKILL)
    time.sleep(0.8)  # idle longer than the probe threshold
    res = sandbox.execute("print('fresh')")
    assert res.ok and res.stdout == "fresh\n", res
    assert _server_pid(sandbox) != pid


async def test_aexecute_runs_concurrently_with_the_event_loop(sandbox):
    import asyncio

    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    res = await sandbox.aexecute("import time; time.sleep(0.5); print('done')")
    task.cancel()
    assert res.stdout == "done\n"
    assert ticks >= 5, "the event loop was blocked during aexecute"


def test_concurrent_calls_on_one_server_are_serialised(sandbox):
    results: list[ExecResult] = []
    threads = [threading.Thread(target=lambda i=i: results.append(sandbox.execute(f"print({i})", seed=i))) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(int(r.stdout) for r in results) == list(range(6))
    assert all(r.seed == int(r.stdout) for r in results)
