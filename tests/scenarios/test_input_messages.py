"""Friendlier input handling: every problem of a file, dimension from answer_format.dim, any JSON scalars as
permutation items, and a ground truth whose last line is not JSON said in one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stochbox.cli import main
from stochbox.scenarios import AnswerFormat, load_pack, validate_path
from stochbox.scenarios.importer import import_jsonl
from stochbox.scenarios.samples import coerce_sample
from stochbox.reference.truth import TruthError, generate_samples

from machine_features import require_or_skip
from stochbox.testing.scenario_texts import write_pack

# Three independent mistakes in one file: a wrong type, an unknown field, a bad tag.
THREE_PROBLEMS = """\
    id: many
    title: Many problems
    prompt: x
    kind: program
    support: discrete
    answer_format: {type: integer}
    ground_truth: {code: "print(1)", timeout_s: soon}
    colour: red
    tags: [Bad Tag]
"""


def _cli(capsys, *argv: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(argv))
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_validate_lists_every_problem_of_a_file(tmp_path: Path, capsys) -> None:
    pack = write_pack(tmp_path / "p", {"many.yaml": THREE_PROBLEMS})
    errors = validate_path(pack)
    fields = sorted(e.field or "" for e in errors)
    assert fields == ["colour", "ground_truth.timeout_s", "tags"], [str(e) for e in errors]
    assert not any("more problem" in str(e) for e in errors)
    code, _, err = _cli(capsys, "scenarios", "validate", str(pack))
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 3 and all(l.startswith("error: ") and "many.yaml:" in l for l in lines)
    assert any("field 'colour': is not a known field" in l for l in lines)
    assert any("field 'tags'" in l and ":9:" in l for l in lines)  # each with its own line number
    # a single file gets the same list, and loading still stops at the first with a count of the rest
    assert len(validate_path(pack / "many.yaml")) == 3
    with pytest.raises(Exception, match=r"and 2 more problems in this file"):
        load_pack(pack)


def test_import_jsonl_takes_the_dimension_from_answer_format_dim(tmp_path: Path) -> None:
    line = {
        "id": "pair",
        "prompt": "Two numbers.",
        "code": "import json, random\nprint(json.dumps([[random.random(), random.random()] for _ in range(N)]))",
        "support": "multivariate",
        "answer_format": {"type": "vector", "dim": 2},
        "batch": True,
    }
    src = tmp_path / "v.jsonl"
    src.write_text(json.dumps(line) + "\n" + json.dumps(line | {"id": "triple", "dimension": 2, "answer_format": {"type": "vector", "dim": 3}}) + "\n")
    result = import_jsonl(src, tmp_path / "out", name="v")
    assert result.imported == ["v-pair"]
    assert load_pack(tmp_path / "out").scenarios[0].dimension == 2
    # a dimension that contradicts dim is still an error, named
    assert len(result.problems) == 1 and "must equal dimension" in result.problems[0].message


def test_import_jsonl_accepts_any_json_scalars_as_permutation_items(tmp_path: Path) -> None:
    line = {
        "id": "floats",
        "prompt": "Shuffle [8.14, 10.11, 4.23].",
        "code": "import json, random\nx = [8.14, 10.11, 4.23]\nrandom.shuffle(x)\nprint(json.dumps(x))",
        "support": "permutation",
        "answer_format": {"type": "list", "items": [8.14, 10.11, 4.23]},
    }
    mixed = line | {"id": "mixed", "answer_format": {"type": "list", "items": ["a", 2, 2.5, True, None]}}
    src = tmp_path / "p.jsonl"
    src.write_text(json.dumps(line) + "\n" + json.dumps(mixed) + "\n")
    result = import_jsonl(src, tmp_path / "out", name="p")
    assert result.exit_code == 0, result.problems
    items = {s.id: s.answer_format.items for s in load_pack(tmp_path / "out").scenarios}
    assert items["p-floats"] == [8.14, 10.11, 4.23] and all(isinstance(i, float) for i in items["p-floats"])
    assert items["p-mixed"] == ["a", 2, 2.5, True, None]


def test_float_items_compare_as_numbers_and_stay_distinct() -> None:
    fmt = AnswerFormat(type="list", items=[8.14, 10.0, 4.23])
    assert coerce_sample([10, "4.23", 8.14], fmt) == [10.0, 4.23, 8.14]  # 10 is the item 10.0
    with pytest.raises(ValueError, match="not a permutation"):
        coerce_sample([10, 10.0, 8.14], fmt)
    with pytest.raises(ValueError, match="distinct"):
        AnswerFormat(type="list", items=[1, 1.0, 2])
    with pytest.raises(ValueError, match="finite"):
        AnswerFormat(type="list", items=[1.0, float("inf")])


@pytest.fixture(scope="module")
def jail():
    from stochbox.sandbox import open_sandbox
    from stochbox.sandbox.local import jail_problem

    problem = jail_problem()
    require_or_skip("STOCHBOX_REQUIRE_JAIL", problem is None, f"local jail unavailable: {problem}")
    sb = open_sandbox("local")
    yield sb
    sb.close()


HELLO = {
    "one.yaml": """\
        id: one
        title: Prints a greeting
        prompt: x
        kind: program
        support: discrete
        answer_format: {type: integer}
        ground_truth: {code: "import sys\\nprint('hello world')\\nprint('debug', file=sys.stderr)"}
    """,
    "batch.yaml": """\
        id: batch
        title: Prints a greeting
        prompt: x
        kind: program
        support: discrete
        answer_format: {type: integer}
        ground_truth: {code: "print('hello world')", batch: true}
    """,
}


@pytest.mark.jail
def test_a_ground_truth_that_prints_no_json_says_so_in_one_line(tmp_path: Path, jail, capsys) -> None:
    pack = load_pack(write_pack(tmp_path / "hello", HELLO, name="hello"))
    by_id = {s.id: s for s in pack.scenarios}
    for sid, where in (("one", "run 0: "), ("batch", "")):
        with pytest.raises(TruthError) as exc:
            generate_samples(by_id[sid], 5, 1, jail)
        message = str(exc.value)
        assert message.endswith(f"ground truth {where}last stdout line 'hello world' is not JSON"), message
        assert "Traceback" not in message and "debug" not in message and "\n" not in message
    code, _, err = _cli(
        capsys, "truth", "--pack", str(tmp_path / "hello"), "--scenario", "one", "--n", "5",
        "--cache-dir", str(tmp_path / "c"), "--sandbox", "local",
    )
    errors = [l for l in err.splitlines() if l.startswith("error: ")]
    assert code == 5 and len(errors) == 1 and "last stdout line 'hello world' is not JSON" in errors[0]
    assert "Traceback" not in err and "JSONDecodeError" not in err
