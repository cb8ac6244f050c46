"""Fixtures for evaluator tests: canonical scenarios and samplers drawing from their true laws.

Samples are drawn in-process with numpy (fixed seeds) from the same laws the
ground-truth programs implement, so statistical tests stay fast and
deterministic; the sandboxed truth path is exercised in the calibration tests.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from stochbox.scenarios import resolve_packs

from evalkit import KNOWN, SCRIPT, SCRIPTED_SCENARIOS, draw, stochbox_cli  # noqa: F401


@pytest.fixture(scope="session")
def canonical():
    """The five built-in canonical scenarios (one per support) whose laws :func:`draw` knows."""
    return {s.id: s for s in resolve_packs(["canonical"])[0].scenarios if s.id in KNOWN}


@pytest.fixture(scope="session")
def references(canonical):
    """10,000 reference samples per canonical scenario (fixed seed)."""
    rng = np.random.default_rng(20260101)
    return {sid: draw(sid, 10_000, rng) for sid in canonical}


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("truth-cache")


@pytest.fixture(scope="session")
def scripted_run(tmp_path_factory, cache_dir) -> Path:
    """A real run: a scripted model, native (constant answers) and tool mode (sandboxed programs), N=30."""
    root = tmp_path_factory.mktemp("scripted-run")
    script = root / "script.yaml"
    script.write_text(SCRIPT)
    out = root / "run"
    args = ["run", "--model", f"scripted:{script}", "--pack", "canonical", "--mode", "both", "--n", "30",
            "--reference-n", "3000", "--sandbox", "unsafe-subprocess", "--cache-dir", str(cache_dir), "--out", str(out), "-q", "-c", "16"]
    for sid in SCRIPTED_SCENARIOS:
        args += ["-s", sid]
    proc = stochbox_cli(*args)
    assert proc.returncode == 0, proc.stderr
    return out
