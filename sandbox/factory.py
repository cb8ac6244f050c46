"""Choose and open a backend by name (``--sandbox auto|docker|local|unsafe-subprocess``).

Contract: ``open_sandbox`` returns a ready :class:`Sandbox` or raises
:class:`~stochbox.errors.SandboxUnavailableError` explaining what to install.
``auto`` prefers Docker when an engine answers, then the local jail; it
never falls back to ``unsafe-subprocess``.
"""

from __future__ import annotations

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox.base import Sandbox, SandboxSpec


def open_sandbox(spec: SandboxSpec | str = "auto", **overrides: object) -> Sandbox:
    if isinstance(spec, str):
        spec = SandboxSpec(backend=spec, **overrides)
    elif overrides:
        spec = spec.model_copy(update=overrides)
    if spec.backend == "unsafe-subprocess":
        from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox

        return UnsafeSubprocessSandbox()
    # TODO(issue 3): docker and local backends land here.
    raise SandboxUnavailableError(
        f"sandbox backend '{spec.backend}' is not available yet",
        hint="use --sandbox unsafe-subprocess to run unconfined",
    )
