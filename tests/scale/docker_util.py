"""Opening a Docker sandbox for a test, with the skip rule of tests/conftest.py."""

from __future__ import annotations

import os

import pytest

from stochbox.sandbox.base import SandboxSpec


def docker_sandbox_or_skip(pool_size: int = 1):
    """A fresh DockerSandbox, or a skip (a failure under ``STOCHBOX_REQUIRE_DOCKER=1``)."""
    from stochbox.errors import SandboxUnavailableError
    from stochbox.sandbox.docker_backend import DockerSandbox, docker_available

    why = None
    if not docker_available(timeout_s=2.0):
        why = "no Docker engine answers"
    else:
        try:
            return DockerSandbox(SandboxSpec(backend="docker", pool_size=pool_size))
        except SandboxUnavailableError as exc:
            why = str(exc)
    if os.environ.get("STOCHBOX_REQUIRE_DOCKER") == "1":
        pytest.fail(f"{why} but STOCHBOX_REQUIRE_DOCKER=1 makes it mandatory")
    pytest.skip(why)
