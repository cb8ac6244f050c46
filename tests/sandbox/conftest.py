"""Sandbox test fixtures: the real local jail (marked ``jail``) and the unconfined fork-server.

Jail tests skip when bubblewrap or user namespaces are missing, unless
``STOCHBOX_REQUIRE_JAIL=1`` makes that a failure. Servers are module-scoped:
starting one imports numpy and scipy (about a second).
"""

from __future__ import annotations

import socket
import uuid

import pytest

from stochbox.sandbox.base import SandboxSpec

from machine_features import require_or_skip


def _require_jail() -> None:
    from stochbox.sandbox.local import jail_problem

    problem = jail_problem()
    require_or_skip("STOCHBOX_REQUIRE_JAIL", problem is None, f"local jail unavailable: {problem}")


@pytest.fixture
def require_jail():
    _require_jail()


@pytest.fixture(scope="module")
def jail():
    _require_jail()
    from stochbox.sandbox.local import LocalSandbox

    sb = LocalSandbox(SandboxSpec(backend="local", pool_size=1, memory_mb=256))
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def fork_server():
    """The same server, unconfined, with the jail's interpreter (no bubblewrap needed)."""
    from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox

    sb = UnsafeSubprocessSandbox(python="/usr/bin/python3", spec=SandboxSpec(backend="unsafe-subprocess", memory_mb=256))
    yield sb
    sb.close()


@pytest.fixture(params=["fork_server", pytest.param("jail", marks=pytest.mark.jail)])
def sandbox(request):
    """Both fork-server backends, for tests of execution semantics."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def host_abstract_socket():
    name = f"stochbox-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind("\0" + name)
    sock.listen(1)
    yield name
    sock.close()
