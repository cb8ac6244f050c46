"""The shared test scenarios (stochbox/testing/scenario_texts.py) load as a pack and say what their docstring says."""

from __future__ import annotations

from stochbox.scenarios.loader import load_pack

from stochbox.testing.scenario_texts import BOOM, COIN, EXPO, POINT, POISSON, TINY, UNIT, write_pack


def test_every_text_loads_with_its_documented_id_and_support(tmp_path):
    texts = {"unit.yaml": UNIT, "expo.yaml": EXPO, "poisson.yaml": POISSON, "point.yaml": POINT, "coin.yaml": COIN, "boom.yaml": BOOM}
    pack = load_pack(write_pack(tmp_path / "all", texts, name="all"))
    got = {s.id: (s.support.value, s.ground_truth.batch) for s in pack.scenarios}
    assert got == {
        "unit": ("continuous", True), "expo": ("continuous", True), "poisson": ("discrete", True),
        "point": ("multivariate", True), "coin": ("categorical", False), "boom": ("discrete", False),
    }
    assert pack.name == "all"


def test_tiny_pack_and_indented_inline_texts(tmp_path):
    inline = """
        id: inline
        title: Inline
        prompt: Pick a number.
        kind: canonical
        support: continuous
        answer_format: {type: number}
        ground_truth: {code: "print(0.5)"}
    """
    pack = load_pack(write_pack(tmp_path / "tiny", {**TINY, "inline.yaml": inline}))
    assert sorted(s.id for s in pack.scenarios) == ["coin", "expo", "inline", "point", "poisson"]
