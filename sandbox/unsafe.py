"""``unsafe-subprocess``: a plain child process, NO isolation.

Only for machines where no isolating backend can start and the user said so
explicitly (``--sandbox unsafe-subprocess``); runs are marked unconfined in
the trace. Gives the same seeding and timeout semantics as the real backends
(the timeout kills the whole process group).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

from stochbox.sandbox.base import ExecResult, IsolationLayer, Sandbox

_HARNESS = r"""
import json, os, random, sys
req = json.loads(sys.stdin.read())
seed = req["seed"]
random.seed(seed)
try:
    import numpy as _np
    _np.random.seed([seed & 0xFFFFFFFF, seed >> 32])
    _orig_default_rng = _np.random.default_rng
    _ss = _np.random.SeedSequence(seed)
    def _default_rng(seed=None):
        if seed is None:
            return _orig_default_rng(_ss.spawn(1)[0])
        return _orig_default_rng(seed)
    _np.random.default_rng = _default_rng
except ImportError:
    pass
g = {"__name__": "__main__", "__builtins__": __builtins__}
g.update(req["globals"])
exec(compile(req["code"], "<snippet>", "exec"), g)
"""


class UnsafeSubprocessSandbox(Sandbox):
    name = "unsafe-subprocess"
    isolating = False

    def __init__(self, python: str | None = None) -> None:
        self.python = python or sys.executable

    def layers(self) -> list[IsolationLayer]:
        return [IsolationLayer(name="none", active=False, detail="unconfined child process (explicitly requested)")]

    def _execute(self, code: str, *, timeout_s: float, seed: int, output_cap: int, globals_: dict[str, Any]) -> ExecResult:
        req = json.dumps({"code": code, "seed": seed, "globals": globals_})
        with tempfile.TemporaryDirectory(prefix="stochbox-unsafe-") as work:
            env = {"PATH": "/usr/bin:/bin", "HOME": work, "PYTHONHASHSEED": "0", "LANG": "C.UTF-8"}
            t0 = time.perf_counter()
            proc = subprocess.Popen(
                [self.python, "-I", "-c", _HARNESS],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=work, env=env, start_new_session=True, close_fds=True,
            )
            timed_out = False
            try:
                out, err = proc.communicate(req.encode(), timeout=timeout_s)
            except subprocess.TimeoutExpired:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                out, err = proc.communicate()
            dur = time.perf_counter() - t0
        truncated = len(out) > output_cap or len(err) > output_cap
        return ExecResult(
            stdout=out[:output_cap].decode("utf-8", "replace"),
            stderr=err[:output_cap].decode("utf-8", "replace"),
            exit_code=proc.returncode,
            timed_out=timed_out,
            duration_s=dur,
            truncated=truncated,
            seed=seed,
            backend=self.name,
            killed_reason="timeout" if timed_out else None,
        )
