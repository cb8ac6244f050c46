"""The verdict cache (``verdicts.sqlite`` in the run folder): a warm report reruns no test, and any
changed input -- samples, reference, test code, preset, alpha -- is recomputed."""

from __future__ import annotations

import json
import shutil
import sqlite3

import pytest

import stochbox.analysis.runs as runs_module
from stochbox.analysis import verdict_cache
from stochbox.analysis.verdict_cache import CACHE_FILE, evaluator_sources
from stochbox.reference.cache import ReferenceCache, ReferenceFile, canonical_json
from stochbox.analysis.report import build_report
from stochbox.run.runinfo import read_run_info

from evalkit import stochbox_cli
from tagged_run import make_run

ARMS, SCENARIOS, NS = 2, 4, 2  # two models x four scenarios x (N=20 and its curve prefix N=10)
ALL = ARMS * SCENARIOS * NS
CHECKED = ARMS * SCENARIOS  # the too-regular diagnostic at the run's N, cached beside the verdicts


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, sandbox_backend):
    root = tmp_path_factory.mktemp("cache-run")
    return make_run(root, sandbox_backend, root / "truth")


@pytest.fixture
def run(base_run, tmp_path):
    """A private copy (the tests edit samples and references), without a verdict cache yet."""
    copy = tmp_path / "run"
    shutil.copytree(base_run, copy, ignore=shutil.ignore_patterns(CACHE_FILE))
    return copy


@pytest.fixture
def evaluations(monkeypatch):
    """Every (model, scenario, N) the report had to compute (not take from the cache)."""
    calls = []
    real = runs_module.evaluate_scenario

    def counting(scenario, samples, reference, *, model, mode, preset):
        calls.append((model, scenario.id, len(samples)))
        return real(scenario, samples, reference, model=model, mode=mode, preset=preset)

    monkeypatch.setattr(runs_module, "evaluate_scenario", counting)
    return calls


@pytest.fixture
def regularity_checks(monkeypatch):
    """Every (scenario, N) whose too-regular diagnostic the report had to compute."""
    calls = []
    real = runs_module.check_regularity

    def counting(scenario, samples, reference):
        calls.append((scenario.id, len(samples)))
        return real(scenario, samples, reference)

    monkeypatch.setattr(runs_module, "check_regularity", counting)
    return calls


def _rows(run) -> list[tuple[str, str]]:
    with sqlite3.connect(run / CACHE_FILE) as db:
        return list(db.execute("SELECT key, version FROM verdicts"))


def test_a_warm_report_reruns_no_test_and_says_the_same(run, evaluations, regularity_checks, monkeypatch):
    cold = build_report(run).to_json()
    assert len(evaluations) == ALL and len(regularity_checks) == CHECKED and len(_rows(run)) == ALL + CHECKED
    evaluations.clear()
    regularity_checks.clear()
    assert build_report(run).to_json() == cold and evaluations == [] and regularity_checks == []
    # --no-cache recomputes everything and gives the same bytes
    assert build_report(run, use_cache=False).to_json() == cold and len(evaluations) == ALL
    # the command line: a warm report, and --no-cache, print the same JSON as the cold one
    warm = stochbox_cli("report", str(run), "--json")
    fresh = stochbox_cli("report", str(run), "--json", "--no-cache")
    assert warm.returncode == fresh.returncode == 0 and warm.stdout == fresh.stdout == cold


def test_changed_samples_recompute_only_what_they_touch(run, evaluations):
    before = json.loads(build_report(run).to_json())
    evaluations.clear()
    with sqlite3.connect(run / "run.sqlite") as db:
        (raw,) = db.execute("SELECT record FROM episodes WHERE episode_id = 'baseline:oracle/native/expo/0'").fetchone()
        record = json.loads(raw)
        record["samples"] = [1e6]  # far outside the law: the Wasserstein distance must move
        db.execute("UPDATE episodes SET record = ? WHERE episode_id = 'baseline:oracle/native/expo/0'", (json.dumps(record),))
    after = json.loads(build_report(run).to_json())
    # episode 0 is in both the N=20 sample and its N=10 prefix
    assert sorted(evaluations) == [("baseline:oracle", "expo", 10), ("baseline:oracle", "expo", 20)]
    w1 = lambda rep: next(r["effect"]["w1_scaled"] for r in rep["results"] if r["model"] == "baseline:oracle" and r["scenario"] == "expo")  # noqa: E731
    assert w1(after) > w1(before) + 1000


def test_a_changed_reference_is_recomputed(run, evaluations):
    before = json.loads(build_report(run).to_json())
    evaluations.clear()
    info = read_run_info(run)
    ref = info.reference_for("expo")
    cache = ReferenceCache(info.config.cache_dir)
    body = ReferenceFile.model_validate_json(cache.path_for(ref.key).read_bytes())
    shifted = body.model_copy(update={"samples": [x + 1.0 for x in body.samples]})  # same key, other content
    cache.path_for(ref.key).write_bytes(canonical_json(shifted.model_dump(mode="json")))
    after = json.loads(build_report(run).to_json())
    assert sorted(evaluations) == sorted((m, "expo", n) for m in ("baseline:oracle", "baseline:collapse") for n in (10, 20))
    verdict = lambda rep: next((r["passed"], r["pvalue"]) for r in rep["results"] if r["model"] == "baseline:oracle" and r["scenario"] == "expo")  # noqa: E731
    assert verdict(before)[0] is True and verdict(after)[0] is False  # the oracle no longer matches a shifted reference


def test_another_test_version_preset_or_alpha_is_a_miss(run, evaluations, monkeypatch):
    build_report(run)
    old_version = {v for _, v in _rows(run)}
    evaluations.clear()
    build_report(run, alpha=0.01)
    build_report(run, preset="unpredictabench")
    assert len(evaluations) == 2 * ALL  # each pass rule has its own verdicts ...
    evaluations.clear()
    build_report(run)
    build_report(run, alpha=0.01)
    assert evaluations == []  # ... and all of them stay cached side by side
    # a new test implementation (e.g. an exact KS p-value) changes the evaluator version: everything is recomputed
    monkeypatch.setattr(verdict_cache, "evaluator_version", lambda: "a-newer-ks")
    build_report(run)
    assert len(evaluations) == ALL
    assert {v for _, v in _rows(run)} == {"a-newer-ks"} and old_version != {"a-newer-ks"}  # stale rows dropped


def test_the_version_covers_every_test_module_and_changes_with_their_code(tmp_path, monkeypatch):
    names = {p.name for p in evaluator_sources()}
    assert {"dispatch.py", "ks.py", "presets.py", "conditional_null.py", "categorical.py", "energy.py", "samples.py"} <= names
    fake = tmp_path / "ks.py"
    fake.write_text("def ks(): return 1\n")
    monkeypatch.setattr(verdict_cache, "evaluator_sources", lambda: [fake])
    verdict_cache.evaluator_version.cache_clear()
    try:
        first = verdict_cache.evaluator_version()
        fake.write_text("def ks(): return 2\n")
        verdict_cache.evaluator_version.cache_clear()
        assert verdict_cache.evaluator_version() != first
    finally:
        verdict_cache.evaluator_version.cache_clear()


def test_a_damaged_or_unwritable_cache_never_changes_the_report(run, evaluations):
    cold = build_report(run, use_cache=False).to_json()
    (run / CACHE_FILE).write_bytes(b"this is not a database" * 100)
    assert build_report(run).to_json() == cold
    (run / CACHE_FILE).unlink()
    (run / CACHE_FILE).mkdir()  # cannot be opened as a file at all
    assert build_report(run).to_json() == cold
