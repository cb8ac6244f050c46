"""Sandboxed execution of untrusted Python (model-written code, ground-truth programs).

Public surface::

    from stochbox.sandbox import open_sandbox, Sandbox, ExecResult, SandboxSpec
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
from stochbox.sandbox.factory import open_sandbox

__all__ = [
    "MAX_SEED",
    "TOOL_OUTPUT_CAP",
    "TRUTH_OUTPUT_CAP",
    "ExecResult",
    "IsolationLayer",
    "Sandbox",
    "SandboxSpec",
    "open_sandbox",
]
