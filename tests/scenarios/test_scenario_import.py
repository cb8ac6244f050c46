"""``stochbox scenarios import jsonl``: good lines become a valid pack, bad lines are reported and skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stochbox.cli import main
from stochbox.scenarios import load_pack, validate_path
from stochbox.scenarios.importer import import_jsonl
from stochbox.reference.truth import TruthError, generate_samples

COINS = {
    "id": "Coins 10",
    "prompt": "Flip a fair coin 10 times.\nHow many heads? Answer with the integer only.",
    "code": "import json, numpy as np\nprint(json.dumps(np.random.binomial(10, 0.5, size=N).tolist()))",
    "support": "discrete",
    "batch": True,
    "tags": ["family:binomial", "wording:implicit"],
}
WEATHER = {
    "prompt": "Draw tomorrow's weather. Answer with one of: sun, rain.",
    "code": "import json, random\nprint(json.dumps(random.choice(['sun', 'rain'])))",
    "support": "categorical",
    "answer_format": {"type": "label", "labels": ["sun", "rain"]},
    "kind": "canonical",
    "title": "Sun or rain",
}
# Like UnpredictaBench's programs: sets its own N and prints a Python list of that many samples.
FIXED = {
    "id": "ub-7",
    "question": "Pick a number uniformly between 0 and 1. Answer with the number only.",
    "program": "import random\nN = 1000\nsamples = [random.random() for _ in range(N)]\nprint(samples)",
    "support": "continuous",
    "fixed_batch": 1000,
}
VECTOR = {
    "id": "pair",
    "prompt": "Two independent standard normals. Answer with a JSON list of 2 numbers.",
    "code": "import json, numpy as np\nprint(json.dumps(np.random.standard_normal((N, 2)).tolist()))",
    "support": "multivariate",
    "dimension": 2,
    "batch": True,
    "notes": "independent components   \nno correlation",
}
BAD = [
    "{not json",
    json.dumps({k: v for k, v in COINS.items() if k != "support"} | {"id": "no-support"}),
    json.dumps(COINS | {"id": "odd", "colour": "red"}),
    json.dumps(WEATHER | {"answer_format": {"type": "label"}}),
    json.dumps(COINS),  # duplicate of line 1's id
    json.dumps(COINS | {"id": "neg", "fixed_batch": -3}),
    json.dumps(["a", "list"]),
]


def _write(path: Path, records: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _cli(argv: list[str], capsys) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    out = capsys.readouterr()
    return exc.value.code, out.out, out.err


def test_all_good_lines_import_into_a_valid_readable_pack(tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "suite.jsonl", [COINS, "", WEATHER, FIXED, VECTOR])
    code, out, err = _cli(["scenarios", "import", "jsonl", str(src), "--out", str(tmp_path / "ext")], capsys)
    assert code == 0, err
    assert "imported 4 scenario(s)" in out
    assert validate_path(tmp_path / "ext") == []
    pack = load_pack(tmp_path / "ext")
    assert pack.name == "ext"
    by_id = {s.id: s for s in pack.scenarios}
    assert set(by_id) == {"ext-coins-10", "ext-0003", "ext-ub-7", "ext-pair"}
    assert by_id["ext-0003"].kind.value == "canonical" and by_id["ext-0003"].title == "Sun or rain"
    assert by_id["ext-coins-10"].kind.value == "narrative"  # the default
    assert {"family:binomial", "kind:narrative", "support:discrete", "source:ext"} <= set(by_id["ext-coins-10"].tags)
    assert by_id["ext-pair"].answer_format.dim == 2 and by_id["ext-pair"].notes == "independent components\nno correlation"
    text = (tmp_path / "ext" / "ext-coins-10.yaml").read_text()
    assert "prompt: |\n  Flip a fair coin 10 times.\n" in text
    assert "  code: |\n    import json, numpy as np\n" in text
    validated = _cli(["scenarios", "validate", str(tmp_path / "ext")], capsys)
    assert validated[0] == 0


def test_bad_lines_are_reported_one_line_each_and_good_ones_kept(tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "mixed.jsonl", [COINS, *BAD])
    code, out, err = _cli(["scenarios", "import", "jsonl", str(src), "--out", str(tmp_path / "p"), "--name", "mix"], capsys)
    assert code == 1
    skipped = [l for l in err.splitlines() if l.startswith("skipped: ")]
    assert len(skipped) == len(BAD)
    assert f"{src}:2: not valid JSON" in skipped[0]
    assert f"{src}:3: field 'support'" in skipped[1]
    assert f"{src}:4: field 'colour': is not a known field" in skipped[2]
    assert f"{src}:5: field 'answer_format'" in skipped[3] and "labels" in skipped[3]
    assert f"{src}:6: field 'id': duplicate id 'mix-coins-10' (also on line 1)" in skipped[4]
    assert f"{src}:7: field 'fixed_batch'" in skipped[5]
    assert f"{src}:8: must be a JSON object" in skipped[6]
    assert [s.id for s in load_pack(tmp_path / "p").scenarios] == ["mix-coins-10"]


def test_nothing_usable_exits_2_and_writes_nothing(tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "bad.jsonl", BAD[:3])
    code, _, err = _cli(["scenarios", "import", "jsonl", str(src), "--out", str(tmp_path / "none")], capsys)
    assert code == 2
    assert "nothing written" in err
    assert not (tmp_path / "none").exists()


def test_a_non_empty_output_folder_is_never_overwritten(tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "s.jsonl", [COINS])
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "keep.txt").write_text("mine")
    code, _, err = _cli(["scenarios", "import", "jsonl", str(src), "--out", str(tmp_path / "taken")], capsys)
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "not empty" in err
    assert (tmp_path / "taken" / "keep.txt").read_text() == "mine"


def test_imported_ground_truth_runs_and_fixed_batch_is_sliced_to_n(tmp_path: Path, library_runs) -> None:
    result = import_jsonl(_write(tmp_path / "s.jsonl", [COINS, WEATHER, FIXED, VECTOR]), tmp_path / "run", name="run")
    assert result.exit_code == 0
    sandbox = library_runs.sandbox
    by_id = {s.id: s for s in load_pack(tmp_path / "run").scenarios}
    for sc in by_id.values():
        samples = generate_samples(sc, 300, 11, sandbox)
        assert len(samples) == 300
    fixed = by_id["run-ub-7"]
    assert fixed.ground_truth.batch
    first = generate_samples(fixed, 1000, 5, sandbox)
    assert generate_samples(fixed, 10, 5, sandbox) == first[:10]  # a prefix of the program's own list
    with pytest.raises(TruthError, match="fixed_batch=1000"):
        generate_samples(fixed, 1001, 5, sandbox)


def test_a_bad_pack_name_is_one_error_line(tmp_path: Path, capsys) -> None:
    src = _write(tmp_path / "s.jsonl", [COINS])
    code, _, err = _cli(["scenarios", "import", "jsonl", str(src), "--out", str(tmp_path / "o"), "--name", "Bad Name"], capsys)
    assert code == 2 and err.startswith("error: ") and "'Bad Name' is not a valid pack name" in err
    assert not (tmp_path / "o").exists()


def test_code_with_tabs_and_trailing_spaces_is_still_written_as_a_block(tmp_path: Path) -> None:
    tabbed = COINS | {"code": "import json, numpy as np   \nif True:\n\tx = np.random.poisson(3, N)\nprint(json.dumps(x.tolist()))"}
    import_jsonl(_write(tmp_path / "s.jsonl", [tabbed]), tmp_path / "t", name="t")
    text = (tmp_path / "t" / "t-coins-10.yaml").read_text()
    assert "  code: |\n    import json, numpy as np\n    if True:\n            x = np.random.poisson(3, N)\n" in text
    assert validate_path(tmp_path / "t") == []
