"""Landlock on the host: what the kernel offers.

The rules themselves are applied *inside* the jail by the fork-server
(``server.landlock_restrict``: read/execute on system paths, read-write only
under the execution's work dir, TCP denied, signals scoped), because the
server must stay free of stochbox imports. This module only answers, on the
host, whether that layer can be expected; the server's ``hello`` reports
whether it was really applied.
"""

from __future__ import annotations

import ctypes
import functools

_SYS_LANDLOCK_CREATE_RULESET = 444  # same number on every architecture
_LANDLOCK_CREATE_RULESET_VERSION = 1

#: What each ABI version adds, for reports.
ABI_FEATURES = {
    1: "file system access rights",
    2: "cross-directory rename/link (REFER)",
    3: "truncate",
    4: "TCP bind/connect",
    5: "device ioctl",
    6: "signal and abstract-unix-socket scoping",
    7: "audit logging",
}


@functools.cache
def abi_version() -> int:
    """The kernel's Landlock ABI version; 0 when Landlock is absent or disabled."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return max(int(libc.syscall(_SYS_LANDLOCK_CREATE_RULESET, None, 0, _LANDLOCK_CREATE_RULESET_VERSION)), 0)


def describe(abi: int) -> str:
    if abi <= 0:
        return "not available in this kernel"
    features = ", ".join(v for k, v in ABI_FEATURES.items() if k <= abi)
    return f"ABI {abi}: {features}"
