"""The payload of a ``sandbox_exec`` trace event, built in one place.

Contract of :func:`sandbox_exec_fields`: the returned dict holds the fields
:mod:`stochbox.run.trace` lists for ``sandbox_exec`` plus what replay needs to
run the execution again (``globals``, ``timeout_s``, ``output_cap``), in a
fixed order: the request first (``code``, ``globals``, ``seed``,
``timeout_s``, ``output_cap``), then the result. Callers add their own
context fields (``tool``, ``exec_index``, ``program``) next to it; they must
not rename or drop these, since replay, audit and the transcript read them.

``trim`` keeps a large output out of the trace: stdout keeps its head and
stderr its tail (where a traceback ends), ``trim`` characters each, and
``truncated`` then also says that the recorded stdout was cut (replay then
checks the recorded text as a prefix). Without ``trim`` the result is
recorded as the sandbox returned it (already capped by ``output_cap``).

:func:`valid_exec_result` is the Unicode boundary for sandbox output
(:mod:`stochbox.unicode_text`); callers record its count as
``unicode_replaced`` next to these fields.
"""

from __future__ import annotations

from typing import Any

from stochbox.sandbox.base import ExecResult
from stochbox.unicode_text import valid_unicode


def sandbox_exec_fields(
    result: ExecResult,
    *,
    code: str,
    globals_: dict[str, Any] | None,
    seed: int,
    timeout_s: float,
    output_cap: int,
    trim: int | None = None,
) -> dict[str, Any]:
    """The ``sandbox_exec`` fields for one execution of ``code`` that gave ``result``."""
    stdout, stderr = result.stdout, result.stderr
    truncated = result.truncated
    if trim is not None:
        truncated = truncated or len(stdout) > trim
        stdout, stderr = stdout[:trim], stderr[-trim:]
    return {
        "code": code,
        "globals": globals_ or {},
        "seed": seed,
        "timeout_s": timeout_s,
        "output_cap": output_cap,
        "stdout": stdout,
        "stderr": stderr,
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "duration_s": result.duration_s,
        "truncated": truncated,
        "killed_reason": result.killed_reason,
        "sandbox_error": result.sandbox_error,
        "backend": result.backend,
    }


def valid_exec_result(res: ExecResult) -> tuple[ExecResult, int]:
    """``res`` with valid Unicode in its stdout, stderr and sandbox error; the number of code points replaced."""
    update: dict[str, Any] = {}
    total = 0
    for name in ("stdout", "stderr", "sandbox_error"):
        value = getattr(res, name)
        if value is not None:
            fixed, n = valid_unicode(value)
            if n:
                update[name], total = fixed, total + n
    return (res.model_copy(update=update), total) if total else (res, 0)
