"""Fixtures for evaluator tests: canonical scenarios and samplers drawing from their true laws.

Samples are drawn in-process with numpy (fixed seeds) from the same laws the
ground-truth programs implement, so statistical tests stay fast and
deterministic; the sandboxed truth path is exercised in the calibration tests.
"""

from __future__ import annotations

import numpy as np
import pytest

from stochbox.scenarios import resolve_packs

WEATHER = (["sun", "cloud", "rain"], [0.5, 0.3, 0.2])
KNOWN = ("normal-explicit", "die-roll", "weather-categorical", "dirichlet-3", "shuffle-abcd")


def draw(scenario_id: str, n: int, rng: np.random.Generator) -> list:
    """n samples from the true law of a canonical scenario."""
    if scenario_id == "normal-explicit":
        return rng.normal(10, 2, n).tolist()
    if scenario_id == "die-roll":
        return rng.integers(1, 7, n).tolist()
    if scenario_id == "weather-categorical":
        return rng.choice(WEATHER[0], p=WEATHER[1], size=n).tolist()
    if scenario_id == "dirichlet-3":
        return rng.dirichlet([2, 3, 5], n).tolist()
    if scenario_id == "shuffle-abcd":
        return [list(rng.permutation(list("ABCD"))) for _ in range(n)]
    raise KeyError(scenario_id)


@pytest.fixture(scope="session")
def canonical():
    """The five built-in canonical scenarios (one per support) whose laws :func:`draw` knows."""
    return {s.id: s for s in resolve_packs(["canonical"])[0].scenarios if s.id in KNOWN}


@pytest.fixture(scope="session")
def references(canonical):
    """10,000 reference samples per canonical scenario (fixed seed)."""
    rng = np.random.default_rng(20260101)
    return {sid: draw(sid, 10_000, rng) for sid in canonical}
