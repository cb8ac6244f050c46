"""Small test scenarios as YAML texts, and :func:`write_pack` to make a pack folder of them.

One copy for every test package and the benchmarks. The texts are the files
in ``stochbox/testing/scenario_files/`` (real scenario files, read once at
import). Tests and benchmarks import ``stochbox.testing.scenario_texts``.

A test may rely on the id, law and answer format of each text; change a
file only together with the tests that read it:

* ``UNIT`` -- ``unit``, uniform on [0, 1), continuous, batch.
* ``EXPO`` -- ``expo``, exponential with rate 1, continuous, batch.
* ``POISSON`` -- ``poisson``, Poisson with mean 4, discrete, batch.
* ``POINT`` -- ``point``, uniform in the unit square, multivariate (dim 2), batch.
* ``COIN`` -- ``coin``, a fair coin (labels heads/tails), categorical, one sample per run.
* ``BOOM`` -- ``boom``, a ground truth that always raises ``ValueError('nope')``.

``TINY`` is the four-scenario pack (``coin``, ``expo``, ``poisson``,
``point``: every support but permutation) most run tests use.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from pathlib import Path

_FILES = Path(__file__).parent / "scenario_files"


def _text(file_name: str) -> str:
    return (_FILES / file_name).read_text()


UNIT = _text("unit.yaml")
EXPO = _text("expo.yaml")
POISSON = _text("poisson.yaml")
POINT = _text("point.yaml")
COIN = _text("coin.yaml")
BOOM = _text("boom.yaml")

TINY: Mapping[str, str] = {"coin.yaml": COIN, "expo.yaml": EXPO, "poisson.yaml": POISSON, "point.yaml": POINT}


def write_pack(
    root: Path, scenarios: Mapping[str, str], *, name: str = "tiny", description: str = "a small test pack"
) -> Path:
    """Write ``pack.yaml`` and one file per ``{file name: YAML text}`` into ``root`` (created if missing); returns ``root``.

    Texts may be indented (they are dedented), so a test can write one inline.
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(f"name: {name}\nversion: '0.1'\ndescription: {description}\n")
    for file_name, body in scenarios.items():
        (root / file_name).write_text(textwrap.dedent(body).lstrip())
    return root
