"""End to end through the runner: run folder contents, baselines, resume, determinism."""

from __future__ import annotations

import json
import sqlite3

import pytest

from stochbox.run.config import RunConfig
from stochbox.errors import ConfigError
from stochbox.reference.cache import ReferenceCache
from stochbox.analysis.report import build_report
from stochbox.run.runinfo import read_run_info
from stochbox.run.runner import resume_run, start_run
from stochbox.seeding import derive_seed
from stochbox.run.store import RunStore
from stochbox.run.trace import TraceEvent, read_trace

BASELINES = ["baseline:oracle", "baseline:collapse"]
UNIVARIATE = ["coin", "expo", "poisson"]  # the energy test of "point" is slow; keep these tests fast


def _config(pack, backend, **kw) -> RunConfig:
    base = dict(models=BASELINES, packs=[str(pack)], n=30, reference_n=500, seed=11, sandbox=backend, concurrency=4)
    return RunConfig.model_validate({**base, **kw})


def test_run_folder_holds_run_json_trace_and_one_row_per_episode(tiny_pack, sandbox_backend, sandbox, tmp_path):
    cfg = _config(tiny_pack, sandbox_backend, modes=["native", "tool"])
    out = start_run(cfg, tmp_path / "run", sandbox=sandbox)
    n_eps = 2 * 2 * 4 * 30  # models x modes x scenarios x N
    assert (out.status, out.total, out.done, out.ran) == ("complete", n_eps, n_eps, n_eps)

    info = read_run_info(tmp_path / "run")
    assert info.config == cfg and info.seed == 11
    assert [m["name"] for m in info.models] == BASELINES
    assert info.sandbox["backend"] in ("docker", "local", "unsafe-subprocess")
    assert set(info.versions) >= {"stochbox", "langgraph", "langchain-core", "numpy", "scipy", "pydantic", "structlog"}
    assert [s.id for s in info.scenarios] == ["coin", "expo", "point", "poisson"]
    assert [r.scenario for r in info.references] == ["coin", "expo", "point", "poisson"]

    with RunStore(tmp_path / "run") as store:
        records = list(store.records())
    assert len(records) == n_eps and len({r.episode_id for r in records}) == n_eps
    rec = next(r for r in records if r.model == "baseline:oracle" and r.mode.value == "tool" and r.scenario == "expo" and r.index == 3)
    assert rec.seed == derive_seed(11, "episode", "expo", 3)
    assert rec.episode_id == "baseline:oracle/tool/expo/3" and rec.status.value == "ok" and len(rec.samples) == 1
    native_twin = next(r for r in records if r.episode_id == "baseline:oracle/native/expo/3")
    assert native_twin.seed == rec.seed  # --mode both pairs episodes

    events = list(read_trace(tmp_path / "run"))
    raw = (tmp_path / "run" / "trace.jsonl").read_text().splitlines()
    assert all(TraceEvent.model_validate_json(line) for line in raw)
    assert events[0].event == "run_start" and events[-1].event == "run_end"
    start = events[0].payload
    assert start["sandbox"]["backend"] == info.sandbox["backend"]
    assert start["unconfined"] is (info.sandbox["backend"] == "unsafe-subprocess")
    assert events[-1].payload["status"] == "complete" and events[-1].payload["episodes"] == n_eps
    names = [e.event for e in events]
    assert names.count("episode_start") == names.count("episode_end") == names.count("sample_submitted") == n_eps
    # the oracle draws once per (scenario, mode): one sandbox execution each
    assert names.count("sandbox_exec") == 4 * 2
    per_episode = [e for e in events if e.episode_id == "baseline:collapse/native/coin/0"]
    assert [e.step for e in per_episode] == list(range(len(per_episode)))
    assert [e.event for e in per_episode] == ["episode_start", "sample_submitted", "episode_end"]


def test_oracle_passes_and_collapse_fails(tiny_pack, sandbox_backend, sandbox, tmp_path):
    start_run(_config(tiny_pack, sandbox_backend, n=50), tmp_path / "run", sandbox=sandbox)
    report = build_report(tmp_path / "run")
    by_model = {s.model: s for s in report.summary}
    assert by_model["baseline:oracle"].passed >= 3 and by_model["baseline:oracle"].parse_rate == 1.0
    assert by_model["baseline:collapse"].passed == 0
    assert by_model["baseline:collapse"].ks_at_n == 0.0
    collapse = [r for r in report.results if r.model == "baseline:collapse"]
    assert all(r.n_valid == 50 and r.pvalue is not None and r.pvalue < 0.01 for r in collapse)
    # the oracle's draws are fresh: none of its continuous samples occurs in the reference
    info = read_run_info(tmp_path / "run")
    reference = ReferenceCache().load(info.reference_for("expo").key)
    with RunStore(tmp_path / "run") as store:
        drawn = [r.samples[0] for r in store.records() if r.model == "baseline:oracle" and r.scenario == "expo"]
    assert len(drawn) == 50 and not set(drawn) & set(reference)


def test_batch_protocol_runs_one_episode_per_scenario(tiny_pack, sandbox_backend, sandbox, tmp_path):
    out = start_run(_config(tiny_pack, sandbox_backend, protocol="batch", models=["baseline:oracle"]), tmp_path / "run", sandbox=sandbox)
    assert out.total == 4
    with RunStore(tmp_path / "run") as store:
        assert [len(r.samples) for r in store.records()] == [30] * 4
    assert all(r.n_valid == 30 for r in build_report(tmp_path / "run").results)


class _Stop(Exception):
    pass


def test_resume_after_a_partial_run_gives_the_report_of_an_uninterrupted_run(tiny_pack, sandbox_backend, sandbox, tmp_path):
    cfg = _config(tiny_pack, sandbox_backend, scenarios=UNIVARIATE)
    start_run(cfg, tmp_path / "whole", sandbox=sandbox)

    def stop_after_100(_record, done, _total):
        if done == 100:
            raise _Stop

    with pytest.raises(_Stop):
        start_run(cfg, tmp_path / "part", progress=stop_after_100, sandbox=sandbox)
    with RunStore(tmp_path / "part") as store:
        assert 100 <= store.count() < 180
    assert [e.payload["status"] for e in read_trace(tmp_path / "part") if e.event == "run_end"] == ["failed"]

    out = resume_run(tmp_path / "part", overrides={"concurrency": 2}, sandbox=sandbox)
    assert out.status == "complete" and out.done == out.total == 180 and out.ran < 180
    with RunStore(tmp_path / "part") as store:
        assert store.count() == 180
    assert build_report(tmp_path / "part").to_json() == build_report(tmp_path / "whole").to_json()
    # nothing left to do: resuming again runs nothing
    assert resume_run(tmp_path / "part", sandbox=sandbox).ran == 0
    # per-episode step numbers stay unique across the two attempts
    seen = [(e.episode_id, e.step) for e in read_trace(tmp_path / "part") if e.episode_id]
    assert len(seen) == len(set(seen))


def test_resume_refuses_to_change_what_the_results_depend_on(tiny_pack, sandbox_backend, sandbox, tmp_path):
    start_run(_config(tiny_pack, sandbox_backend, n=2, models=["baseline:collapse"]), tmp_path / "run", sandbox=sandbox)
    with pytest.raises(ConfigError, match="cannot change --n"):
        resume_run(tmp_path / "run", overrides={"n": 5}, sandbox=sandbox)


def test_same_seed_gives_identical_report_json_and_another_seed_does_not(tiny_pack, sandbox_backend, sandbox, tmp_path):
    cfg = _config(tiny_pack, sandbox_backend, models=["baseline:oracle"], scenarios=UNIVARIATE)
    start_run(cfg, tmp_path / "a", sandbox=sandbox)
    start_run(cfg, tmp_path / "b", sandbox=sandbox)
    start_run(cfg.model_copy(update={"seed": 12}), tmp_path / "c", sandbox=sandbox)
    a, b, c = (build_report(tmp_path / d).to_json() for d in "abc")
    assert a == b
    assert a != c
    assert json.loads(a)["summary"][0]["n"] == 30


def test_existing_non_empty_out_dir_is_refused_and_untouched(tiny_pack, sandbox_backend, sandbox, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    with pytest.raises(ConfigError, match="already exists"):
        start_run(_config(tiny_pack, sandbox_backend), out, sandbox=sandbox)
    assert [p.name for p in out.iterdir()] == ["precious.txt"]


def test_episodes_are_committed_as_they_finish(tiny_pack, sandbox_backend, sandbox, tmp_path):
    """While the run is going, another reader already sees the finished episodes."""
    seen: list[tuple[int, int]] = []

    def peek(_record, done, _total):
        if done % 40 == 0:
            db = sqlite3.connect(tmp_path / "run" / "run.sqlite")
            seen.append((done, db.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]))
            db.close()

    start_run(_config(tiny_pack, sandbox_backend, models=["baseline:collapse"], n=40), tmp_path / "run", progress=peek, sandbox=sandbox)
    assert seen and all(done == stored for done, stored in seen)


def test_an_unsafe_sandbox_is_marked_unconfined_in_the_trace(tiny_pack, tmp_path):
    cfg = RunConfig(models=["baseline:collapse"], packs=[str(tiny_pack)], scenarios=["coin"], n=2, reference_n=50, sandbox="unsafe-subprocess")
    start_run(cfg, tmp_path / "run")
    start = next(read_trace(tmp_path / "run"))
    assert start.event == "run_start" and start.payload["unconfined"] is True
    assert start.payload["sandbox"]["backend"] == "unsafe-subprocess" and start.payload["sandbox"]["isolating"] is False
    assert read_run_info(tmp_path / "run").sandbox["isolating"] is False
