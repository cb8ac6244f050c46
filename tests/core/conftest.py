"""Fixtures for the core (runner, store, truth cache, report, CLI) tests.

Runs prefer the ``auto`` sandbox (Docker or the local jail) and fall back to
``unsafe-subprocess`` only where no isolating backend can start here.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stochbox.testing.scenario_texts import TINY, write_pack


@pytest.fixture
def tiny_pack(tmp_path) -> Path:
    """The four-scenario pack of :data:`scenario_texts.TINY` (coin, expo, poisson, point), fresh per test."""
    return write_pack(tmp_path / "tiny-pack", TINY)
