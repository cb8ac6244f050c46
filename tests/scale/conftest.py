"""Fixtures for the scale and reliability tests: a tiny pack, a session sandbox, the OpenAI stub server.

Runs use the ``auto`` sandbox (Docker or the local jail) and fall back to
``unsafe-subprocess`` only where no isolating backend can start here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from stochbox.testing.scenario_texts import COIN, UNIT
from stochbox.testing.scenario_texts import write_pack as write_test_pack

from stochbox.testing.openai_stub import StubServer

def write_pack(root: Path, scenarios: dict[str, str]) -> Path:
    return write_test_pack(root, scenarios, name="scale", description="scale tests")


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


@pytest.fixture(scope="module")
def stub_module():
    """A stub server for one test module (the executor tests compare several runs against one)."""
    with StubServer() as server:
        yield server


@pytest.fixture(scope="module")
def local_run(stub_module, two_pack, sandbox, tmp_path_factory):
    """The local executor's run of :func:`executor_runs.run_config`: what other executors must reproduce."""
    from stochbox.run.runner import start_run

    from .executor_runs import run_config

    out = tmp_path_factory.mktemp("local") / "run"
    start_run(run_config(stub_module, two_pack), out, sandbox=sandbox)
    return out
