"""Inspect interop tests: real ``inspect-ai`` (the ``inspect`` extra, installed by ``.[all]``).

Without inspect-ai the tests skip, unless ``STOCHBOX_REQUIRE_INSPECT=1`` (set by
``.ci/run``) makes that a failure. Test modules import inspect_ai inside the
tests, so collection works without it.
"""

from __future__ import annotations

import importlib.util

import pytest

from machine_features import require_or_skip


@pytest.fixture(autouse=True)
def require_inspect():
    require_or_skip("STOCHBOX_REQUIRE_INSPECT", importlib.util.find_spec("inspect_ai") is not None, "inspect-ai is not installed")


@pytest.fixture(scope="module")
def jail_backend() -> str:
    from stochbox.sandbox.local import jail_problem

    problem = jail_problem()
    require_or_skip("STOCHBOX_REQUIRE_JAIL", problem is None, f"local jail unavailable: {problem}")
    return "local"


@pytest.fixture(scope="module")
def docker_backend() -> str:
    from stochbox.sandbox.base import SandboxSpec
    from stochbox.sandbox.docker_backend import docker_available, docker_client

    if not docker_available(timeout_s=2.0):
        require_or_skip("STOCHBOX_REQUIRE_DOCKER", False, "no Docker engine answers")
    client = docker_client()
    try:
        client.images.get(SandboxSpec().image)
        present = True
    except Exception:
        present = False
    finally:
        client.close()
    require_or_skip("STOCHBOX_REQUIRE_DOCKER", present, "sandbox image missing (stochbox sandbox build-image)")
    return "docker"
