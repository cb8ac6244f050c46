"""The containment battery (``stochbox sandbox check``) on the real local jail.

The Docker tests run the same :data:`CHECKS` through :func:`run_battery`.
"""

from __future__ import annotations

import pytest

from stochbox.sandbox.base import SandboxSpec
from stochbox.sandbox.check import CHECKS, run_battery

pytestmark = pytest.mark.jail


def test_local_jail_contains_the_whole_battery(require_jail):
    from stochbox.sandbox.local import LocalSandbox

    results = run_battery(lambda: LocalSandbox(SandboxSpec(backend="local", pool_size=1, memory_mb=256)))
    assert [r.name for r in results] == [c.name for c in CHECKS]
    escaped = {r.name: r.detail for r in results if not r.passed}
    assert not escaped


def test_battery_fails_an_unconfined_backend():
    """The battery must be able to fail: the unconfined server reads host files and reaches loopback.

    Only probes that are harmless on the host run here (no writes, no bombs).
    """
    from stochbox.sandbox.check import CHECKS as ALL
    from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox

    harmless = tuple(c for c in ALL if c.name in ("secret-file", "loopback"))
    results = run_battery(lambda: UnsafeSubprocessSandbox(python="/usr/bin/python3"), harmless)
    verdict = {r.name: r.passed for r in results}
    assert verdict["secret-file"] is False
    assert verdict["loopback"] is False
