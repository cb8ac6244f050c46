"""Shared test fixtures.

Backends that need machine features (Docker engine, bubblewrap jail, the
llama extra) are skipped where absent, by the rule in ``machine_features``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox import open_sandbox


@pytest.fixture
def unsafe_sandbox():
    from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox

    sb = UnsafeSubprocessSandbox()
    yield sb
    sb.close()


@pytest.fixture(scope="session")
def sandbox():
    """One sandbox for the session (opening a container pool per test would dominate the run time):
    ``auto`` where an isolating backend starts here, else ``unsafe-subprocess`` (the test code is ours).
    Folders that test the backends themselves (tests/sandbox) override this fixture."""
    try:
        sb = open_sandbox("auto", pool_size=2)
    except SandboxUnavailableError:
        sb = open_sandbox("unsafe-subprocess")
    yield sb
    sb.close()


@pytest.fixture(scope="session")
def sandbox_backend(sandbox) -> str:
    """The backend name of :func:`sandbox`, for configs and the command line."""
    return sandbox.name


@pytest.fixture(scope="session")
def shared_cache(tmp_path_factory) -> Path:
    """One truth cache for the session (references are content-addressed, so sharing is safe)."""
    return tmp_path_factory.mktemp("truth-cache")


@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch, shared_cache):
    """No test writes to the user's cache folder."""
    monkeypatch.setenv("STOCHBOX_CACHE_DIR", str(shared_cache))


def pytest_terminal_summary(terminalreporter) -> None:
    """How many cases the fuzz tests generated (tests/fuzz_count.py), so CI logs show it."""
    from fuzz_count import summary_lines

    lines = summary_lines()
    if lines:
        terminalreporter.section("fuzz cases")
        for line in lines:
            terminalreporter.write_line(line)
