"""What the executor tests (``processes``, ``ray``) compare with the local executor: one small run's config and its records."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from stochbox.run.config import RunConfig
from stochbox.analysis.report import build_report
from stochbox.run.runner import RunOutcome
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace

#: The stub model (native and tool mode, sandboxed code) and the oracle baseline.
MODELS = ["openai:stub", "baseline:oracle"]


def run_config(stub, pack: Path, **overrides) -> RunConfig:
    """Two models x two modes x the pack's scenarios x 6 episodes, seed 9, concurrency 4."""
    base = dict(models=MODELS, base_url=stub.url, packs=[str(pack)], n=6, reference_n=200, modes=["native", "tool"], concurrency=4, seed=9)
    return RunConfig.model_validate({**base, **overrides})


def stored_records(run_dir: Path) -> list[tuple]:
    """Every stored episode's result fields, in the store's deterministic order."""
    with RunStore(run_dir) as store:
        return [(r.episode_id, r.status.value, r.samples, r.reason, r.n_model_calls, r.n_tool_calls, r.tool_code) for r in store.records()]


def assert_matches_local_run(out: Path, local_run: Path, outcome: RunOutcome) -> None:
    """``out`` (run by another executor) holds the local run's records and report; every episode's
    events reached the runner's trace in order (steps 0, 1, 2, ...; times non-decreasing); and
    tool-mode code ran in the executor's own sandbox pools."""
    assert outcome.status == "complete" and outcome.done == outcome.total == 2 * 2 * 2 * 6
    assert stored_records(out) == stored_records(local_run)
    assert build_report(out).to_json() == build_report(local_run).to_json()
    events = defaultdict(list)
    executed = 0
    for event in read_trace(out):
        if event.episode_id is not None:
            events[event.episode_id].append((event.step, event.ts))
        executed += event.event == "sandbox_exec"
    assert len(events) == outcome.total
    for steps in events.values():
        assert [s for s, _ in steps] == list(range(len(steps)))
        assert [ts for _, ts in steps] == sorted(ts for _, ts in steps)
    assert executed > 0
