"""A stochbox :class:`Sandbox` that runs its code through an Inspect sandbox environment's ``exec``.

Lets the containment battery (``stochbox.sandbox.check``, synchronous probes)
run *through Inspect's API* from inside a solver: the battery runs in a worker
thread (``anyio.to_thread``) and each execution hops back to the event loop
(``anyio.from_thread``) to call ``exec`` on the Inspect environment.
"""

from __future__ import annotations

import math
from typing import Any

import anyio.from_thread

from stochbox.sandbox.base import ExecResult, Sandbox


class InspectExecSandbox(Sandbox):
    name = "inspect-exec"

    def __init__(self, env: Any, python: str = "python3") -> None:
        self.env = env
        self.python = python
        self.name = f"inspect:{type(env).__name__}"

    def _execute(self, code: str, *, timeout_s: float, seed: int, output_cap: int, globals_: dict[str, Any]) -> ExecResult:
        from stochbox.inspect.sandbox_env import SEED_ENV

        assert not globals_, "the battery's probes use no globals"
        try:
            res = anyio.from_thread.run(
                lambda: self.env.exec([self.python, "-c", code], env={SEED_ENV: str(seed)}, timeout=max(1, math.ceil(timeout_s)))
            )
        except TimeoutError:
            return ExecResult(timed_out=True, killed_reason="timeout", seed=seed, duration_s=timeout_s)
        killed = "memory" if "[stochbox: killed: memory limit]" in res.stderr else None
        return ExecResult(
            stdout=res.stdout[:output_cap], stderr=res.stderr[:output_cap], exit_code=res.returncode, seed=seed,
            truncated="[stochbox: output truncated" in res.stderr or len(res.stdout) > output_cap, killed_reason=killed,
        )
