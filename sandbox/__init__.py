"""Sandboxed execution of untrusted Python (model-written code, ground-truth programs).

Public surface::

    from stochbox.sandbox import open_sandbox, Sandbox, ExecResult, SandboxSpec
    from stochbox.sandbox import run_battery, CHECKS      # the containment self-test

Backends (``SandboxSpec.backend``): ``docker`` (hardened containers),
``local`` (bubblewrap jail: namespaces, seccomp, Landlock, uid, cgroup,
rlimits), ``unsafe-subprocess`` (unconfined, only by name); ``auto`` picks
Docker when an engine answers, else ``local``. All three run the same warm
fork-server (``server.py``) through ``transport.ManagedServer`` and a
``pool.ServerPool``.
"""

from stochbox.sandbox.base import (
    MAX_SEED,
    TOOL_OUTPUT_CAP,
    TRUTH_OUTPUT_CAP,
    ExecResult,
    IsolationLayer,
    Sandbox,
    SandboxSpec,
)
from stochbox.sandbox.check import CHECKS, CheckResult, run_battery
from stochbox.sandbox.factory import open_sandbox

__all__ = [
    "CHECKS",
    "MAX_SEED",
    "TOOL_OUTPUT_CAP",
    "TRUTH_OUTPUT_CAP",
    "CheckResult",
    "ExecResult",
    "IsolationLayer",
    "Sandbox",
    "SandboxSpec",
    "open_sandbox",
    "run_battery",
]
