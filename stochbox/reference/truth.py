"""Run ground-truth programs in the sandbox to get samples.

Contract: ``generate_samples(scenario, n, seed, sandbox)`` returns exactly
``n`` samples, each normalised by :func:`coerce_sample`, or raises
:class:`TruthError` naming the scenario and what went wrong (with the tail of
the program's stderr). It is a pure function of (program, n, seed, sandbox
runtime): the same inputs give the same samples. It never runs the program
outside ``sandbox``. A sandbox server lost mid-execution is retried (the
result is the same, by determinism); other failures are not.

Non-batch programs (one sample per execution) are run ``n`` times inside
*one* sandbox execution, each time as a fresh ``__main__`` with fresh globals;
the random state continues from one run to the next, so the n draws are
independent and reproducible. :func:`repeat_program` builds that execution;
its tolerant form re-runs agents' programs for program fidelity
(:mod:`stochbox.analysis.fidelity`).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from stochbox.errors import StochboxError
from stochbox.sandbox.base import TRUTH_OUTPUT_CAP, ExecResult, Sandbox
from stochbox.scenarios.models import Scenario
from stochbox.scenarios.samples import coerce_sample


class TruthError(StochboxError):
    """A ground-truth program failed or broke its output contract."""

    exit_code = 5


# The body of every repeat execution; repeat_program() puts _FILENAME, _TOLERANT
# and _TAIL in front of it as literals (so the globals stay N and the program,
# as replay and the example scripts expect).
_REPEAT_BODY = r'''
import contextlib as _cl, io as _io, json as _json, traceback as _tb
_src = compile(__stochbox_program__, _FILENAME, "exec")
_outs, _errors, _first_error = [], 0, None
for _i in range(N):
    _buf = _io.StringIO()
    _g = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        with _cl.redirect_stdout(_buf):
            exec(_src, _g)
    except SystemExit as _e:
        if not _TOLERANT and _e.code not in (None, 0):
            raise
    except BaseException as _e:
        if not _TOLERANT:
            raise
        _errors += 1
        _first_error = _first_error or "".join(_tb.format_exception_only(type(_e), _e)).strip()[-300:]
        if _errors >= 3 and not _outs:
            break
        continue
    if _TOLERANT:
        _outs.append(_buf.getvalue()[-_TAIL:])
        continue
    _lines = [l for l in _buf.getvalue().splitlines() if l.strip()]
    if not _lines:
        raise SystemExit(f"stochbox-contract: run {_i} printed nothing")
    try:
        _outs.append(_json.loads(_lines[-1]))
    except ValueError:
        _shown = _lines[-1].strip()
        _shown = _shown if len(_shown) <= 80 else _shown[:77] + "..."
        raise SystemExit(f"stochbox-contract: run {_i}: last stdout line {_shown!r} is not JSON")
print(_json.dumps({"outputs": _outs, "errors": _errors, "first_error": _first_error} if _TOLERANT else _outs))
'''


def repeat_program(
    program: str, runs: int, *, tolerant: bool = False, tail: int = 4000, filename: str = "<ground_truth>"
) -> tuple[str, dict[str, Any]]:
    """The code and globals of one sandbox execution that runs ``program`` ``runs`` times.

    Each run is a fresh ``__main__`` with fresh globals and its own captured
    stdout; the random state continues from one run to the next (independent,
    reproducible draws). ``filename`` names the program in its tracebacks.

    * Strict (default; ground truth): a run that raises or exits non-zero
      fails the whole execution (its traceback on stderr); each run's last
      non-blank line is parsed as JSON, and the execution prints one JSON
      list of those values, one per run.
    * ``tolerant=True`` (an agent's program): a run that raises is counted,
      not fatal (after three failures with no output the execution gives
      up); an exit of any code keeps the run's output. The execution prints
      one JSON object ``{"outputs": [the last `tail` characters of each
      run's stdout], "errors": n, "first_error": "..." or null}``.
    """
    settings = f"_FILENAME, _TOLERANT, _TAIL = {filename!r}, {tolerant!r}, {int(tail)!r}"  # line 1: the body starts with a newline
    return settings + _REPEAT_BODY, {"N": runs, "__stochbox_program__": program}


def program_for(scenario: Scenario, n: int) -> tuple[str, dict[str, Any]]:
    """The code and globals one sandbox execution needs to print ``n`` samples as a JSON list."""
    gt = scenario.ground_truth
    assert gt.code is not None
    if gt.batch:
        return gt.code, {"N": n}
    return repeat_program(gt.code, n)


#: A harness line on stderr that states a broken output contract in words (see _REPEAT_BODY).
CONTRACT_MARK = "stochbox-contract: "


def _shown_line(line: str) -> str:
    line = line.strip()
    return repr(line if len(line) <= 80 else line[:77] + "...")


def _fail(scenario: Scenario, what: str, res: ExecResult | None = None) -> TruthError:
    detail = ""
    stated = [l for l in (res.stderr or "").splitlines() if l.startswith(CONTRACT_MARK)] if res is not None else []
    if stated and not res.timed_out:  # the harness said what broke: that line alone, not a traceback fragment
        what, res = stated[-1][len(CONTRACT_MARK) :].strip(), None
    if res is not None:
        tail = (res.stderr or "").strip().splitlines()[-3:]
        if res.sandbox_error:
            detail = f" (sandbox: {res.sandbox_error})"
        elif tail:
            detail = " | " + " / ".join(tail)
    return TruthError(f"scenario '{scenario.id}' ({scenario.source or scenario.pack}): ground truth {what}{detail}")


def parse_samples(scenario: Scenario, res: ExecResult, n: int) -> list[Any]:
    if res.timed_out:
        raise _fail(scenario, f"timed out after {scenario.ground_truth.timeout_s}s", res)
    if not res.ok:
        raise _fail(scenario, f"exited with code {res.exit_code}", res)
    if res.truncated:
        raise _fail(scenario, "printed more than the output cap", res)
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    if not lines:
        raise _fail(scenario, "printed nothing", res)
    try:
        values = json.loads(lines[-1])
    except json.JSONDecodeError:
        raise _fail(scenario, f"last stdout line {_shown_line(lines[-1])} is not JSON") from None
    if not isinstance(values, list) or len(values) != n:
        got = len(values) if isinstance(values, list) else type(values).__name__
        raise _fail(scenario, f"must print a JSON list of N={n} samples, got {got}", res)
    out = []
    for i, v in enumerate(values):
        try:
            out.append(coerce_sample(v, scenario.answer_format))
        except ValueError as exc:
            raise _fail(scenario, f"sample {i} does not match answer_format: {exc}") from None
    return out


#: A lost sandbox server (killed, crashed) is retried: ground truth is a pure
#: function of its seed, so a re-execution gives the same samples.
SERVER_CRASH_RETRIES = 2


def _lost_server(res: ExecResult) -> bool:
    return res.killed_reason == "server_crash"


def generate_samples(scenario: Scenario, n: int, seed: int, sandbox: Sandbox) -> list[Any]:
    if n < 1:
        raise ValueError("n must be >= 1")
    code, globals_ = program_for(scenario, n)
    for _ in range(1 + SERVER_CRASH_RETRIES):
        res = sandbox.execute(
            code,
            timeout_s=scenario.ground_truth.timeout_s,
            seed=seed,
            output_cap=TRUTH_OUTPUT_CAP,
            globals_=globals_,
        )
        if not _lost_server(res):
            break
    return parse_samples(scenario, res, n)


async def agenerate_samples(scenario: Scenario, n: int, seed: int, sandbox: Sandbox) -> list[Any]:
    """:func:`generate_samples` without blocking the event loop (the sandbox call runs in a thread)."""
    return await asyncio.to_thread(generate_samples, scenario, n, seed, sandbox)
