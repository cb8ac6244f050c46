"""Fixtures for the core (runner, store, truth cache, report, CLI) tests.

Runs prefer the ``auto`` sandbox (Docker or the local jail) and fall back to
``unsafe-subprocess`` only where no isolating backend can start here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest



_SCENARIOS = {
    "coin.yaml": """
        id: coin
        title: A fair coin
        prompt: Flip a fair coin. Answer heads or tails.
        kind: canonical
        support: categorical
        answer_format: {type: label, labels: [heads, tails]}
        ground_truth:
          code: |
            import random
            print('"' + random.choice(["heads", "tails"]) + '"')
        tags: [kind:canonical]
    """,
    "expo.yaml": """
        id: expo
        title: Exponential with rate 1
        prompt: Draw one sample from an exponential distribution with rate 1.
        kind: canonical
        support: continuous
        answer_format: {type: number}
        ground_truth:
          batch: true
          code: |
            import json, numpy as np
            print(json.dumps(np.random.exponential(1.0, size=N).tolist()))
        tags: [kind:canonical]
    """,
    "poisson.yaml": """
        id: poisson
        title: Poisson with mean 4
        prompt: Draw one sample from a Poisson distribution with mean 4.
        kind: canonical
        support: discrete
        answer_format: {type: integer}
        ground_truth:
          batch: true
          code: |
            import json, numpy as np
            print(json.dumps(np.random.poisson(4.0, size=N).tolist()))
        tags: [kind:canonical]
    """,
    "point.yaml": """
        id: point
        title: A point in the unit square
        prompt: Pick a uniformly random point in the unit square; answer [x, y].
        kind: canonical
        support: multivariate
        dimension: 2
        answer_format: {type: vector, dim: 2}
        ground_truth:
          batch: true
          code: |
            import json, numpy as np
            print(json.dumps(np.random.uniform(size=(N, 2)).tolist()))
        tags: [kind:canonical]
    """,
}


def write_pack(root: Path, scenarios: dict[str, str] | None = None, name: str = "tiny") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text(f"name: {name}\nversion: '0.1'\ndescription: a small test pack\n")
    for fname, body in (scenarios or _SCENARIOS).items():
        (root / fname).write_text(textwrap.dedent(body).lstrip())
    return root


@pytest.fixture
def tiny_pack(tmp_path) -> Path:
    return write_pack(tmp_path / "tiny-pack")
