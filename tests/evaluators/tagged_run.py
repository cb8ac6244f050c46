"""A small real run whose scenarios carry ``group:`` and ``family:`` tags (for --by-tag and the verdict cache)."""

from __future__ import annotations

from pathlib import Path

from evalkit import stochbox_cli
from stochbox.testing.scenario_texts import COIN, EXPO, POISSON, UNIT, write_pack

#: scenario -> its tags; ``unit`` has no ``group:`` tag, ``poisson`` has two.
TAGS = {
    "coin": ["kind:canonical", "group:labels", "family:bernoulli"],
    "expo": ["kind:canonical", "group:numbers", "family:exponential"],
    "poisson": ["kind:canonical", "group:numbers", "group:counts", "family:poisson"],
    "unit": ["kind:canonical", "family:uniform"],
}


def tagged_pack(root: Path) -> Path:
    texts = {"coin.yaml": COIN, "expo.yaml": EXPO, "poisson.yaml": POISSON, "unit.yaml": UNIT}
    tagged = {}
    for name, text in texts.items():
        sid = name.removesuffix(".yaml")
        assert "tags: [kind:canonical]" in text
        tagged[name] = text.replace("tags: [kind:canonical]", "tags: [" + ", ".join(TAGS[sid]) + "]")
    return write_pack(root, tagged, name="tagged")


def make_run(root: Path, backend: str, cache_dir: Path, *, n: int = 20) -> Path:
    """Oracle and constant answerer, native mode, N = ``n``, 400 reference samples each."""
    out = root / "run"
    proc = stochbox_cli(
        "run", "--model", "baseline:oracle", "--model", "baseline:collapse", "--pack", str(tagged_pack(root / "pack")),
        "--n", str(n), "--reference-n", "400", "--seed", "7", "--sandbox", backend, "--cache-dir", str(cache_dir),
        "--out", str(out), "-q",
    )
    assert proc.returncode == 0, proc.stderr
    return out
