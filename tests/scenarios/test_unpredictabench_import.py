"""``stochbox scenarios import unpredictabench``: the paper's layout in, a pack out, every program run in the jail.

The fixture folder ``tests/scenario_files/unpredictabench`` is written for these tests in the paper's
layout (``ground_truth_codes/<task>_<model>/<uid>.py``, ``realworld_mapping.json``, ``data/<task>/questions.json``
and a JSON-lines export); its programs are not the paper's.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import pytest

from stochbox.cli import main
from stochbox.scenarios import load_pack, validate_path
from stochbox.scenarios.paper_output import extract_printed_list, to_samples
from stochbox.reference.truth import TruthError, generate_samples

from machine_features import require_or_skip

FIXTURE = Path(__file__).parents[1] / "scenario_files" / "unpredictabench"
LEFT_OUT = {
    "fails-04": "failed (exit 1): RuntimeError: this program is broken on purpose",
    "garbage-05": "printed no list Python can read (last stdout line 'hello world')",
    "rw-unmapped-16": "real-world program without an entry in realworld_mapping.json",
}


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


@pytest.fixture(scope="module")
def jail():
    from stochbox.sandbox import open_sandbox
    from stochbox.sandbox.local import jail_problem

    problem = jail_problem()
    require_or_skip("STOCHBOX_REQUIRE_JAIL", problem is None, f"local jail unavailable: {problem}")
    sb = open_sandbox("local", pool_size=2)
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def imported(jail, tmp_path_factory) -> dict:
    """The fixture imported once through the CLI with the questions folder."""
    out = tmp_path_factory.mktemp("ub") / "ub"
    argv = ["scenarios", "import", "unpredictabench", str(FIXTURE), "--questions", str(FIXTURE / "data"), "--out", str(out), "--sandbox", "local"]
    captured: dict = {}
    with pytest.MonkeyPatch.context() as mp:  # capsys is function-scoped; this fixture is not
        mp.setattr(sys, "stdout", io.StringIO())
        mp.setattr(sys, "stderr", io.StringIO())
        try:
            main(argv)
        except SystemExit as exc:
            captured["code"] = exc.code
        captured["out"], captured["err"] = sys.stdout.getvalue(), sys.stderr.getvalue()
    pack = load_pack(out)
    return {**captured, "dir": out, "pack": pack, "by_uid": {s.id.removeprefix("ub-"): s for s in pack.scenarios}}


@pytest.mark.jail
def test_broken_programs_are_named_with_their_reason_and_the_rest_is_imported(imported) -> None:
    assert imported["code"] == 1, imported["err"]
    left = [l for l in imported["err"].splitlines() if l.startswith("left out: ")]
    assert len(left) == len(LEFT_OUT)
    for uid, reason in LEFT_OUT.items():
        assert any(f"/{uid}: {reason}" in l for l in left), (uid, left)
    assert "imported 13 of 16 program(s)" in imported["out"]
    assert set(imported["by_uid"]) == {
        "disc-poisson-01", "cont-normal-02", "mixed-rect-03", "joint-06", "colours-07", "coded-08", "numpy-repr-09",
        "compound-10", "shuffle-floats-11", "shuffle-words-12", "rw-lines-13", "rw-select-14", "rw-number-15",
    }
    assert validate_path(imported["dir"]) == []
    report = json.loads((imported["dir"] / "import-report.json").read_text())
    assert sorted(item["uid"] for item in report["left_out"]) == sorted(LEFT_OUT)
    assert report["by_group"]["code_explicit_concentrated"] == {"programs": 5, "imported": 3}
    assert any("question-without-program" in w["message"] for w in report["warnings"])


@pytest.mark.jail
def test_support_labels_and_items_follow_the_category_and_the_probe(imported) -> None:
    sc = imported["by_uid"]
    expected = {
        "disc-poisson-01": "discrete", "cont-normal-02": "continuous", "mixed-rect-03": "continuous",
        "joint-06": "multivariate", "colours-07": "categorical", "coded-08": "categorical", "numpy-repr-09": "continuous",
        "compound-10": "continuous", "shuffle-floats-11": "permutation", "shuffle-words-12": "permutation",
        "rw-lines-13": "permutation", "rw-select-14": "categorical", "rw-number-15": "discrete",
    }
    assert {u: s.support.value for u, s in sc.items()} == expected
    assert sc["joint-06"].dimension == 2 and sc["joint-06"].answer_format.dim == 2
    assert sc["colours-07"].labels == ["blue", "green", "red"]
    assert sc["coded-08"].labels == ["1", "2", "3"]
    items = sc["shuffle-floats-11"].answer_format.items
    assert items == [1.25, 3.0, 8.5] and all(isinstance(i, float) for i in items)
    assert sc["shuffle-words-12"].answer_format.items == ["east", "north", "south", "west"]
    assert sc["rw-lines-13"].answer_format.items == ["Worker 1", "Worker 2", "Worker 3"]
    assert sc["rw-select-14"].labels == ["(no output)", "X", "Y", "X\nY", "Y\nX"]  # in the mapping's code order
    assert "atoms:yes" in sc["mixed-rect-03"].tags and "atoms:yes" not in sc["cont-normal-02"].tags
    assert "imported as continuous" in (sc["compound-10"].notes or "")


@pytest.mark.jail
def test_tags_name_the_task_group_its_parts_and_the_papers_test(imported) -> None:
    sc = imported["by_uid"]
    disc = set(sc["disc-poisson-01"].tags)
    assert {
        "group:code_explicit_concentrated", "prompt:code", "wording:explicit", "spread:concentrated", "kind:program",
        "support:discrete", "category:discrete_distributions", "family:poisson-distribution", "paper-test:permutation-ks",
        "paper-encoding:value", "source:unpredictabench",
    } <= disc
    assert {"group:textual_implicit_spread_out", "prompt:textual", "wording:implicit", "spread:spread-out", "kind:narrative"} <= set(sc["joint-06"].tags)
    # the paper routes by category: "Mixed_discretecontinuous" is not discrete, a discrete category printing floats still is
    assert "paper-test:exact-ks" in sc["mixed-rect-03"].tags and "paper-test:permutation-ks" in sc["compound-10"].tags
    assert {"group:shuffling_human", "paper-test:permutation-ks", "paper-encoding:lehmer"} <= set(sc["shuffle-floats-11"].tags)
    assert {"group:realworld_human", "paper-encoding:lehmer"} <= set(sc["rw-lines-13"].tags)
    assert "paper-encoding:label-order" in sc["rw-select-14"].tags
    assert sc["disc-poisson-01"].prompt.startswith("Write code that draws one Poisson(2.5) value")
    assert sc["disc-poisson-01"].title == "Poisson Distribution (code_explicit_concentrated)"


@pytest.mark.jail
def test_every_imported_ground_truth_runs_and_gives_a_prefix_of_the_programs_list(imported, jail) -> None:
    for uid, sc in imported["by_uid"].items():
        samples = generate_samples(sc, 300, 7, jail)
        assert len(samples) == 300, uid
    normal = imported["by_uid"]["cont-normal-02"]  # prints 2,000 values and sets its own N
    full = generate_samples(normal, 2000, 5, jail)
    assert generate_samples(normal, 10, 5, jail) == full[:10]
    with pytest.raises(TruthError, match="2000 usable samples per run; N=2001 is more"):
        generate_samples(normal, 2001, 5, jail)
    select = generate_samples(imported["by_uid"]["rw-select-14"], 1000, 3, jail)
    assert {"(no output)", "X", "Y"} <= set(select)
    floats = generate_samples(imported["by_uid"]["shuffle-floats-11"], 50, 3, jail)
    assert all(sorted(s) == [1.25, 3.0, 8.5] for s in floats)


@pytest.mark.jail
def test_a_jsonl_or_parquet_export_of_the_questions_gives_the_same_pack(imported, tmp_path: Path, capsys) -> None:
    pytest.importorskip("pyarrow")
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [json.loads(l) for l in (FIXTURE / "questions.jsonl").read_text().splitlines() if l.strip()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "q.parquet")
    for source in (FIXTURE / "questions.jsonl", tmp_path / "q.parquet"):
        out = tmp_path / f"ub-{source.suffix[1:]}"
        code, _, err = _cli(capsys, "scenarios", "import", "unpredictabench", str(FIXTURE), "--questions", str(source), "--out", str(out), "--name", "ub", "--sandbox", "local")
        assert code == 1, err
        again = {s.id: s.model_dump(exclude={"source"}) for s in load_pack(out).scenarios}
        assert again == {s.id: s.model_dump(exclude={"source"}) for s in imported["pack"].scenarios}


@pytest.mark.jail
def test_without_questions_every_scenario_has_a_stand_in_prompt_and_the_command_says_so(jail, tmp_path: Path, capsys) -> None:
    code, out, err = _cli(capsys, "scenarios", "import", "unpredictabench", str(FIXTURE), "--out", str(tmp_path / "bare"), "--sandbox", "local", "--task", "code_explicit_concentrated", "--task", "textual_implicit_spread_out")
    assert code == 1, err
    assert "note: 8 scenario(s) have a stand-in prompt (no --questions)" in err
    by_uid = {s.id.removeprefix("bare-"): s for s in load_pack(tmp_path / "bare").scenarios}
    assert len(by_uid) == 8 and all("--questions" in s.prompt and "category:unknown" in s.tags for s in by_uid.values())
    # without a category the values decide: integers are discrete, labels printed as numbers stay numbers
    assert by_uid["disc-poisson-01"].support.value == "discrete" and "paper-test:permutation-ks" in by_uid["disc-poisson-01"].tags
    assert by_uid["coded-08"].support.value == "discrete"
    assert by_uid["colours-07"].support.value == "categorical"


@pytest.mark.jail
def test_nothing_usable_exits_2_and_writes_nothing(jail, tmp_path: Path, capsys) -> None:
    src = tmp_path / "src" / "ground_truth_codes" / "code_explicit_concentrated_m"
    src.mkdir(parents=True)
    for name in ("fails-04.py", "garbage-05.py"):
        shutil.copy(FIXTURE / "ground_truth_codes" / "code_explicit_concentrated_testmodel-1" / name, src / name)
    code, _, err = _cli(capsys, "scenarios", "import", "unpredictabench", str(tmp_path / "src"), "--out", str(tmp_path / "none"), "--sandbox", "local")
    assert code == 2 and "nothing written" in err and err.count("left out: ") == 2
    assert not (tmp_path / "none").exists()


def test_a_folder_without_the_papers_layout_is_one_error_line(tmp_path: Path, capsys) -> None:
    (tmp_path / "empty").mkdir()
    code, _, err = _cli(capsys, "scenarios", "import", "unpredictabench", str(tmp_path / "empty"), "--out", str(tmp_path / "o"), "--sandbox", "local")
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1 and "ground_truth_codes" in err


def test_the_layout_is_found_from_the_code_folder_or_ground_truth_codes_itself() -> None:
    from stochbox.scenarios.unpredictabench import find_layout, read_mapping, task_group

    for given in (FIXTURE, FIXTURE / "ground_truth_codes"):
        codes, mapping = find_layout(given)
        assert codes == FIXTURE / "ground_truth_codes" and mapping == FIXTURE / "realworld_mapping.json"
    assert read_mapping(mapping)["rw-select-14"]["how"] == "selection_separated_by_new_line"  # the paper's "uids:" key
    assert task_group("code_explicit_spread_out_gpt-5.4") == "code_explicit_spread_out"
    assert task_group("textual_multimodal_explicit_concentrated_claude-x") == "textual_multimodal_explicit_concentrated"
    assert task_group("shuffling_human") == "shuffling_human"


def test_the_printed_list_is_read_as_the_paper_reads_it() -> None:
    assert extract_printed_list("[1, 2]\n") == [1, 2]
    assert extract_printed_list("progress 50%\n[0.5, 'a']\ndone\n") == [0.5, "a"]  # last list, text after it
    assert extract_printed_list("[np.float64(1.5), np.int64(2)]") == [1.5, 2]
    assert extract_printed_list("[[1, 2], [3, 4]]") == [[1, 2], [3, 4]]
    # Python string reprs, read fast where JSON is exact and by Python's parser where it is not
    assert extract_printed_list("[['b', 'a'], ['a', 'b']]") == [["b", "a"], ["a", "b"]]
    assert extract_printed_list("[\"it's\", 'a, b']") == ["it's", "a, b"]
    assert extract_printed_list("['x\\'y', \"q\"]") == ["x'y", "q"]
    assert extract_printed_list("[True, None, 'None']") == [True, None, "None"]
    assert extract_printed_list("x = [1,\n 2]\nbye") == [1, 2]  # a list printed over lines
    with pytest.raises(ValueError, match="printed no list Python can read \\(last stdout line 'hello world'\\)"):
        extract_printed_list("hello world\n")
    with pytest.raises(ValueError, match="printed nothing"):
        extract_printed_list("\n\n")


def test_encodings_match_the_papers_reading_of_text_outputs() -> None:
    assert to_samples(["B\nA\n", " A \nB"], {"kind": "lines"}) == [["B", "A"], ["A", "B"]]
    mapping = {"kind": "mapping", "keys": ["(no output)", "Replica A", "A\nB"], "empty": "(no output)"}
    assert to_samples(["replicaA", "", "a\r\nb", "zzz"], mapping) == ["Replica A", "(no output)", "A\nB"]  # zzz dropped
    assert to_samples([1, 2.0, "3"], {"kind": "label"}) == ["1", "2", "3"]
