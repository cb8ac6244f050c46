"""``report --by-tag PREFIX``: KS@N per tag value, per model and mode, with the main table's intervals."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from stochbox.evaluators import group_by_tag, scenario_groups
from stochbox.evaluators.intervals import wilson_interval
from stochbox.run.runinfo import read_run_info

from evalkit import stochbox_cli
from tagged_run import TAGS, make_run


@pytest.fixture(scope="module")
def tagged_run(tmp_path_factory, sandbox_backend):
    root = tmp_path_factory.mktemp("tagged")
    return make_run(root, sandbox_backend, root / "cache")


def _json_report(run, *args):
    proc = stochbox_cli("report", str(run), "--json", *args)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_by_tag_rows_recount_the_per_scenario_verdicts_with_wilson_intervals(tagged_run):
    report = _json_report(tagged_run, "--by-tag", "group", "--by-tag", "family:")
    verdicts = {(r["model"], r["mode"], r["scenario"]): r["passed"] for r in report["results"]}
    # what each row must say, recomputed from the per-scenario verdicts and the tags
    expected = []
    for prefix in ("group", "family"):
        for model in ("baseline:oracle", "baseline:collapse"):
            groups = defaultdict(list)
            for sid, tags in TAGS.items():
                values = [t.split(":", 1)[1] for t in tags if t.startswith(prefix + ":")] or [None]
                for v in values:
                    groups[v].append(verdicts[(model, "native", sid)])
            for v in sorted((k for k in groups if k is not None)) + ([None] if None in groups else []):
                passed, total = sum(groups[v]), len(groups[v])
                expected.append((prefix, model, v, passed, total, *wilson_interval(passed, total)))
    got = [(t["tag"], t["model"], t["value"], t["passed"], t["scenarios"], t["ci_low"], t["ci_high"]) for t in report["by_tag"]]
    assert [g[:5] for g in got] == [e[:5] for e in expected]
    assert all(g[5] == pytest.approx(e[5], abs=1e-11) and g[6] == pytest.approx(e[6], abs=1e-11) for g, e in zip(got, expected))
    rows = {(t["tag"], t["model"], t["value"]): t for t in report["by_tag"]}
    # poisson carries two group tags and counts in both; unit carries none and is "untagged"
    assert rows[("group", "baseline:oracle", "counts")]["scenarios"] == 1
    assert rows[("group", "baseline:oracle", "numbers")]["scenarios"] == 2
    assert rows[("group", "baseline:oracle", None)]["scenarios"] == 1
    assert all(t["n"] == 20 and t["preset"] == "stochbox" and t["mode"] == "native" for t in report["by_tag"])
    # the constant answerer fails everything, the oracle passes (nearly) everything: the rows are not all alike
    assert rows[("family", "baseline:collapse", "exponential")]["ks_at_n"] == 0.0
    assert rows[("family", "baseline:oracle", "exponential")]["ks_at_n"] == 1.0
    # without --by-tag the field is empty and the rest is unchanged
    plain = _json_report(tagged_run)
    assert plain["by_tag"] == [] and plain["summary"] == report["summary"] and plain["results"] == report["results"]


def test_by_tag_under_the_paper_preset_text_and_html(tagged_run, tmp_path):
    proc = stochbox_cli("report", str(tagged_run), "--preset", "unpredictabench", "--by-tag", "group", "--html", str(tmp_path / "r.html"))
    assert proc.returncode == 0, proc.stderr
    assert "KS@N by group (preset unpredictabench, alpha 0.0001, 95% Wilson CI)" in " ".join(proc.stdout.split())
    lines = [" ".join(line.split()) for line in proc.stdout.splitlines()]
    assert any("baseline:oracle" in line and "numbers" in line and "2/2" in line for line in lines)
    assert any("(untagged)" in line for line in lines)
    page = (tmp_path / "r.html").read_text()
    section = page.split('id="by-tag"', 1)[1].split("</section>", 1)[0]
    assert "by group" in section and "numbers" in section and "counts" in section and "unpredictabench" in section
    report = _json_report(tagged_run, "--preset", "unpredictabench", "--by-tag", "group")
    assert {t["preset"] for t in report["by_tag"]} == {"unpredictabench"} and {t["alpha"] for t in report["by_tag"]} == {1e-4}
    # "group" and "group:" name one prefix: its rows come once
    assert _json_report(tagged_run, "--preset", "unpredictabench", "--by-tag", "group", "--by-tag", "group:")["by_tag"] == report["by_tag"]


def test_a_prefix_no_scenario_carries_is_one_clear_error(tagged_run):
    proc = stochbox_cli("report", str(tagged_run), "--by-tag", "task")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: ")
    assert "task" in proc.stderr and "family, group, kind" in proc.stderr


def test_group_helpers_are_the_ones_compare_breaks_down_by(tagged_run):
    scenarios = read_run_info(tagged_run).scenarios
    assert group_by_tag(scenarios, "group") == {"counts": ["poisson"], "labels": ["coin"], "numbers": ["expo", "poisson"], None: ["unit"]}
    poisson = next(s for s in scenarios if s.id == "poisson")
    assert scenario_groups(poisson.kind.value, poisson.support.value, poisson.tags) == [
        "kind:canonical", "support:discrete", "tag:kind:canonical", "tag:group:numbers", "tag:group:counts", "tag:family:poisson",
    ]
    proc = stochbox_cli("compare", str(tagged_run), "--json")  # pairs the run's two models
    assert proc.returncode == 0, proc.stderr
    groups = {g["group"] for c in json.loads(proc.stdout)["comparisons"] for g in c["by_group"]}
    assert {"tag:group:numbers", "tag:group:counts", "kind:canonical", "support:discrete"} <= groups
