"""One broken ground truth never blocks a sweep: the run leaves it out, warns, records it; --strict stops."""

from __future__ import annotations

import json

import pytest

from stochbox.testing.cli import run_cli as _cli
from stochbox.run.runinfo import read_run_info
from stochbox.run.runner import start_run
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace

from stochbox.testing.scenario_texts import BOOM, TINY, write_pack

# A batch program that prints 3 samples whatever N is asked for (the paper's failure that blocked 444 programs).
SHORT = """
    id: short
    title: Prints three samples whatever N is
    prompt: Draw a number.
    kind: program
    support: continuous
    answer_format: {type: number}
    ground_truth:
      batch: true
      code: |
        print([0.1, 0.2, 0.3])
"""
FIXED_BOOM = BOOM.replace("raise ValueError('nope')", "print(3)")


@pytest.fixture
def broken_pack(tiny_pack):
    return write_pack(tiny_pack, {**TINY, "boom.yaml": BOOM, "short.yaml": SHORT})


def _run_args(pack, out_dir, backend, *extra):
    return ("run", "--model", "baseline:oracle", "--pack", str(pack), "--scenario", "coin", "--scenario", "boom",
            "--scenario", "expo", "--scenario", "short", "--n", "6", "--reference-n", "300", "--seed", "5",
            "--out", str(out_dir), "--sandbox", backend, "-q", *extra)


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if "left out of the run" in line]


def test_a_broken_ground_truth_is_left_out_and_the_run_goes_on(capsys, broken_pack, sandbox_backend, tmp_path):
    out_dir = tmp_path / "run"
    code, out, err = _cli(capsys, *_run_args(broken_pack, out_dir, sandbox_backend))
    assert code == 0, err
    warnings = _warnings(err)
    assert len(warnings) == 2, err  # once per excluded scenario, naming it and what its program did
    boom = next(w for w in warnings if "'boom'" in w)
    short = next(w for w in warnings if "'short'" in w)
    assert boom.startswith("warning: ") and "nope" in boom and "--strict" in boom
    assert "N=300" in short and "got 3" in short

    info = read_run_info(out_dir)
    assert [s.id for s in info.scenarios] == ["coin", "expo"] and [r.scenario for r in info.references] == ["coin", "expo"]
    assert [(e.scenario, "nope" in e.reason) for e in info.excluded] == [("boom", True), ("short", False)]
    assert "got 3" in info.excluded[1].reason and info.excluded[1].source.endswith("short.yaml")
    with RunStore(out_dir) as store:
        assert {r.scenario for r in store.records()} == {"coin", "expo"} and store.count() == 12
    start = next(e for e in read_trace(out_dir) if e.event == "run_start")
    assert start.payload["excluded"] == ["boom", "short"]

    # the report lists them beside KS@N and counts them in no denominator
    code, out, _ = _cli(capsys, "report", str(out_dir), "--json")
    report = json.loads(out)
    assert [r["scenario"] for r in report["results"]] == ["coin", "expo"]
    assert report["summary"][0]["scenarios"] == 2
    assert [e["scenario"] for e in report["excluded"]] == ["boom", "short"]
    assert "got 3" in report["excluded"][1]["reason"]
    code, out, _ = _cli(capsys, "report", str(out_dir))
    assert code == 0 and "left out of the run" in out and "boom" in out and "short" in out
    html = tmp_path / "r.html"
    assert _cli(capsys, "report", str(out_dir), "--html", str(html))[0] == 0
    page = html.read_text()
    assert 'id="excluded"' in page and "got 3" in page


def test_resume_keeps_the_exclusions_even_after_the_program_is_fixed(capsys, broken_pack, sandbox_backend, sandbox, tmp_path):
    from stochbox.run.config import RunConfig

    cfg = RunConfig(models=["baseline:oracle"], packs=[str(broken_pack)], scenarios=["coin", "boom", "expo", "short"],
                    n=6, reference_n=300, seed=5, sandbox=sandbox_backend, concurrency=1)

    class Stop(Exception):
        pass

    def stop_after_4(_record, done, _total):
        if done == 4:
            raise Stop

    with pytest.raises(Stop):
        start_run(cfg, tmp_path / "part", progress=stop_after_4, sandbox=sandbox)
    write_pack(broken_pack, {"boom.yaml": FIXED_BOOM})  # the program works now; the run's plan must not change
    code, out, err = _cli(capsys, "run", "--resume", str(tmp_path / "part"), "--sandbox", sandbox_backend, "-q")
    assert code == 0, err
    assert len(_warnings(err)) == 2  # said again, once each
    info = read_run_info(tmp_path / "part")
    assert [e.scenario for e in info.excluded] == ["boom", "short"] and [s.id for s in info.scenarios] == ["coin", "expo"]
    with RunStore(tmp_path / "part") as store:
        assert {r.scenario for r in store.records()} == {"coin", "expo"} and store.count() == 12
    # the resumed run reports exactly what an uninterrupted one does
    write_pack(broken_pack, {"boom.yaml": BOOM})
    code, _, err = _cli(capsys, *_run_args(broken_pack, tmp_path / "whole", sandbox_backend))
    assert code == 0, err
    part = _cli(capsys, "report", str(tmp_path / "part"), "--json")[1]
    whole = _cli(capsys, "report", str(tmp_path / "whole"), "--json")[1]
    assert part == whole


def test_strict_restores_fail_fast_before_any_folder_exists(capsys, broken_pack, sandbox_backend, tmp_path):
    out_dir = tmp_path / "run"
    code, _, err = _cli(capsys, *_run_args(broken_pack, out_dir, sandbox_backend, "--strict"))
    assert code == 5
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and ("'boom'" in errors[0] or "'short'" in errors[0]) and "Traceback" not in err
    assert not out_dir.exists()


def test_strict_cannot_be_given_to_a_resumed_run(capsys, tmp_path):
    code, _, err = _cli(capsys, "run", "--resume", str(tmp_path), "--strict")
    assert code == 2 and err.startswith("error: ") and "--strict" in err


def test_when_every_ground_truth_fails_the_run_stops_naming_the_first(capsys, broken_pack, sandbox_backend, tmp_path):
    out_dir = tmp_path / "run"
    code, _, err = _cli(capsys, "run", "--model", "baseline:collapse", "--pack", str(broken_pack), "--scenario", "boom",
                        "--scenario", "short", "--n", "5", "--reference-n", "50", "--out", str(out_dir), "--sandbox", sandbox_backend)
    assert code == 5
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and "every scenario" in errors[0] and "'boom'" in errors[0] and "nope" in errors[0]
    assert not out_dir.exists()
