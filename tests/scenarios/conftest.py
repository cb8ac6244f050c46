"""Fixtures for the scenario-library checks: one sandbox per session, runs computed once.

Which sandbox: ``STOCHBOX_SCENARIO_SANDBOX`` (default ``auto``: Docker, then the
local jail). When no isolating backend can start, the ground-truth checks are
skipped -- unless ``STOCHBOX_REQUIRE_JAIL=1`` or ``STOCHBOX_REQUIRE_DOCKER=1`` makes
that a failure. ``STOCHBOX_SCENARIO_SANDBOX=unsafe-subprocess`` runs the programs
unconfined with ``STOCHBOX_SCENARIO_PYTHON`` (default ``/usr/bin/python3``,
Debian's runtime, like the sandbox image): for authors on a machine without a
sandbox, never for untrusted code.

Every ground-truth program is run three times: seed A with ``N_FIT`` draws for
canonical scenarios (their goodness-of-fit sample) or ``N_SMALL`` otherwise,
seed A again with as many, and seed B with ``N_SMALL``. (A sandbox execution
costs more than its draws, so reusing the large run beats extra small ones.)
The runs of all collected scenarios are started together on a small thread
pool so a sandbox pool, where the backend has one, is kept busy.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from scenario_library import library_scenarios

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox import open_sandbox
from stochbox.sandbox.base import TRUTH_OUTPUT_CAP, ExecResult, Sandbox
from stochbox.scenarios import Kind, Scenario
from stochbox.seeding import derive_seed
from stochbox.reference.truth import program_for

WORKERS = 2
#: Draws per run: a goodness-of-fit sample (canonical), few otherwise.
N_FIT = 5000
N_SMALL = 200


def draws_for(sc: Scenario) -> int:
    """Draws of the seed-A runs: a goodness-of-fit sample for canonical scenarios, few otherwise."""
    return N_FIT if sc.kind is Kind.canonical else N_SMALL


@dataclass(frozen=True)
class Run:
    """One execution of a ground-truth program: the raw result and the decoded last line (or why not)."""

    result: ExecResult
    wall_s: float
    values: Any = None
    problem: str | None = None


@dataclass(frozen=True)
class RunSet:
    n: int  # draws in first and again
    first: Run  # seed A
    again: Run  # seed A again
    other: Run  # seed B, N_SMALL draws


def _run(sandbox: Sandbox, sc: Scenario, n: int, seed: int) -> Run:
    code, globals_ = program_for(sc, n)
    t0 = time.perf_counter()
    res = sandbox.execute(code, timeout_s=sc.ground_truth.timeout_s, seed=seed, output_cap=TRUTH_OUTPUT_CAP, globals_=globals_)
    wall = time.perf_counter() - t0
    if not res.ok:
        tail = " / ".join((res.stderr or "").strip().splitlines()[-3:])
        why = "timed out" if res.timed_out else f"exit {res.exit_code}"
        return Run(res, wall, problem=f"{why} {res.sandbox_error or ''} {tail}".strip())
    lines = [l for l in res.stdout.splitlines() if l.strip()]
    try:
        return Run(res, wall, values=json.loads(lines[-1]))
    except (IndexError, json.JSONDecodeError):
        return Run(res, wall, problem=f"last stdout line is not JSON: {(lines or [''])[-1][:80]!r}")


def _run_set(sandbox: Sandbox, sc: Scenario) -> RunSet:
    seed_a, seed_b = derive_seed("scenario-checks", sc.id, "a"), derive_seed("scenario-checks", sc.id, "b")
    n = draws_for(sc)
    return RunSet(n, _run(sandbox, sc, n, seed_a), _run(sandbox, sc, n, seed_a), _run(sandbox, sc, N_SMALL, seed_b))


def _open_library_sandbox() -> Sandbox:
    backend = os.environ.get("STOCHBOX_SCENARIO_SANDBOX", "auto")
    if backend == "unsafe-subprocess":
        from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox

        return UnsafeSubprocessSandbox(python=os.environ.get("STOCHBOX_SCENARIO_PYTHON", "/usr/bin/python3"))
    try:
        return open_sandbox(backend, pool_size=WORKERS)
    except SandboxUnavailableError as exc:
        why = f"no isolating sandbox for the ground-truth checks ({exc})"
        for flag in ("STOCHBOX_REQUIRE_JAIL", "STOCHBOX_REQUIRE_DOCKER"):
            if os.environ.get(flag) == "1":
                pytest.fail(f"{why} but {flag}=1 makes it mandatory")
        pytest.skip(why)


class LibraryRuns:
    """Lazily filled map scenario id -> :class:`RunSet`; ``prefetch`` starts many at once."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="gt-check")
        self._futures: dict[str, Future[RunSet]] = {}

    def prefetch(self, scenarios: list[Scenario]) -> None:
        for sc in scenarios:
            if sc.id not in self._futures:
                self._futures[sc.id] = self._pool.submit(_run_set, self.sandbox, sc)

    def get(self, sc: Scenario) -> RunSet:
        self.prefetch([sc])
        return self._futures[sc.id].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
        self.sandbox.close()


@pytest.fixture(scope="session")
def library_runs(request: pytest.FixtureRequest) -> Any:
    runs = LibraryRuns(_open_library_sandbox())
    by_id = {sc.id: sc for sc in library_scenarios()}
    wanted = []
    for item in request.session.items:  # only what this session will actually check
        callspec = getattr(item, "callspec", None)
        sc = callspec.params.get("scenario") if callspec else None
        if isinstance(sc, Scenario) and sc.id in by_id and "library_runs" in getattr(item, "fixturenames", ()):
            wanted.append(sc)
    runs.prefetch(wanted)
    yield runs
    runs.close()
