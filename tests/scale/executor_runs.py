"""What the executor tests (``processes``, ``ray``) compare with the local executor: one small run's config and its records."""

from __future__ import annotations

from pathlib import Path

from stochbox.config import RunConfig
from stochbox.store import RunStore

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
