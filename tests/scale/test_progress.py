"""The progress display counts what the store holds: episodes, tokens, errors; rate and ETA from this process."""

from __future__ import annotations

import io

from rich.console import Console

from stochbox.run.config import RunConfig
from stochbox.run.progress import RunProgress
from stochbox.run.runner import resume_run, start_run
from stochbox.run.store import RunStore


def test_progress_counts_episodes_tokens_and_errors(stub, unit_pack, sandbox, tmp_path):
    stub.inject({"status": 403})  # one failed episode
    out = io.StringIO()
    cfg = RunConfig.model_validate(
        dict(models=["openai:stub"], base_url=stub.url, packs=[str(unit_pack)], n=12, reference_n=200, concurrency=3)
    )
    with RunProgress(Console(file=out, force_terminal=True, width=200)) as progress:
        start_run(cfg, tmp_path / "run", sandbox=sandbox, progress=progress.hook)
    with RunStore(tmp_path / "run") as store:
        records = list(store.records())
    s = progress.stats
    assert (s.done, s.total, s.ran) == (12, 12, 12)
    assert s.tokens_in == sum(r.tokens_in for r in records) > 0
    assert s.tokens_out == sum(r.tokens_out for r in records) > 0
    assert s.errors == 1 and s.statuses == {"ok": 11, "failed": 1}
    assert s.rate > 0 and s.eta_s == 0
    shown = out.getvalue()
    assert "12/12" in shown and "ep/s" in shown and "errors 1" in shown and "tokens" in shown


def test_resumed_progress_rates_only_this_process(stub, unit_pack, sandbox, tmp_path):
    cfg = RunConfig.model_validate(
        dict(models=["openai:stub"], base_url=stub.url, packs=[str(unit_pack)], n=10, reference_n=200, concurrency=2)
    )
    start_run(cfg, tmp_path / "run", sandbox=sandbox)
    with RunStore(tmp_path / "run") as store:  # forget 4 episodes, as if the run had been killed
        store._db.execute("DELETE FROM episodes WHERE idx >= 6")
    with RunProgress(Console(file=io.StringIO()), disable=True) as progress:
        resume_run(tmp_path / "run", sandbox=sandbox, progress=progress.hook)
    assert (progress.stats.done, progress.stats.total, progress.stats.ran) == (10, 10, 4)
