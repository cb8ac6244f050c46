"""Shared test fixtures.

Backends that need machine features (Docker engine, bubblewrap jail, the
llama extra) are skipped where absent -- unless the matching
``STOCHBOX_REQUIRE_*=1`` variable is set (as ``.ci/run`` does), in which case
their absence is a failure, so CI cannot pass by skipping.
"""

from __future__ import annotations

import os

import pytest


def require_or_skip(flag: str, available: bool, why: str) -> None:
    if available:
        return
    if os.environ.get(flag) == "1":
        pytest.fail(f"{why} but {flag}=1 makes it mandatory")
    pytest.skip(why)


@pytest.fixture
def unsafe_sandbox():
    from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox

    sb = UnsafeSubprocessSandbox()
    yield sb
    sb.close()
