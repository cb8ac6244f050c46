"""Fixtures for the scale and reliability tests: a tiny pack, a session sandbox, the OpenAI stub server.

Runs use the ``auto`` sandbox (Docker or the local jail) and fall back to
``unsafe-subprocess`` only where no isolating backend can start here.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest


from .openai_stub import StubServer

UNIT = """
id: unit
title: Uniform on [0, 1)
prompt: Draw one number uniformly at random from [0, 1).
kind: canonical
support: continuous
answer_format: {type: number}
ground_truth:
  batch: true
  code: |
    import json, numpy as np
    print(json.dumps(np.random.uniform(size=N).tolist()))
tags: [kind:canonical]
"""

COIN = """
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
"""


def write_pack(root: Path, scenarios: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pack.yaml").write_text("name: scale\nversion: '0.1'\ndescription: scale tests\n")
    for name, body in scenarios.items():
        (root / name).write_text(textwrap.dedent(body).lstrip())
    return root


@pytest.fixture(scope="session")
def unit_pack(tmp_path_factory) -> Path:
    """One continuous scenario the stub answers sensibly (uniform values derived from the request seed)."""
    return write_pack(tmp_path_factory.mktemp("pack"), {"unit.yaml": UNIT})


@pytest.fixture(scope="session")
def two_pack(tmp_path_factory) -> Path:
    """Two scenarios for the baselines (kill/resume and Ray tests)."""
    return write_pack(tmp_path_factory.mktemp("pack2"), {"unit.yaml": UNIT, "coin.yaml": COIN})


@pytest.fixture
def stub():
    with StubServer() as server:
        yield server
