"""The sandbox interface every backend implements.

Contract for callers:

* ``execute(code, timeout_s=..., seed=...)`` runs ``code`` as a fresh
  ``__main__`` module in a fresh process with an empty work directory and
  returns an :class:`ExecResult`. It does **not** raise for anything the code
  does (exceptions, timeouts, crashes, memory kills, a dead sandbox server):
  those are fields of the result. It raises only for caller mistakes
  (``ValueError``) or when the backend cannot run at all
  (:class:`~stochbox.errors.SandboxUnavailableError`).
* ``random`` and ``numpy.random`` (the legacy global state, and
  ``numpy.random.default_rng()`` called without a seed) are seeded from
  ``seed``; the same code with the same seed prints the same output.
* Nothing persists from one execution to the next; the host environment
  (variables, home directory, files) is never visible inside.
* ``seed`` must be an int in ``[0, 2**63)``; see :func:`stochbox.derive_seed`.
* Backends are safe to call from several threads; ``aexecute`` is the
  asyncio form and does not block the event loop.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from stochbox.plugins import Registry

MAX_SEED = 2**63

#: Default output cap for tool output shown to a model (bytes of stdout+stderr each).
TOOL_OUTPUT_CAP = 16 * 1024
#: Default output cap for ground-truth runs: room for 10,000+ printed values.
TRUTH_OUTPUT_CAP = 32 * 1024 * 1024


class ExecResult(BaseModel):
    """What one execution did.

    ``exit_code`` is the process exit status (negative: killed by that
    signal), or ``None`` when the sandbox could not run the code at all
    (see ``sandbox_error``). ``truncated`` is true when stdout or stderr
    exceeded ``output_cap`` and was cut. ``killed_reason`` is one of
    ``timeout``, ``memory``, ``cpu``, ``output``, ``server_crash`` or None.
    """

    model_config = ConfigDict(frozen=True)

    stdout: str = ""
    stderr: str = ""
    exit_code: int | None = None
    timed_out: bool = False
    duration_s: float = 0.0
    truncated: bool = False
    seed: int = 0
    backend: str = ""
    killed_reason: str | None = None
    sandbox_error: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and self.sandbox_error is None


class IsolationLayer(BaseModel):
    """One confinement mechanism and whether it is active in this backend."""

    name: str
    active: bool
    detail: str = ""


class Sandbox(ABC):
    """Base class of sandbox backends. Subclasses implement ``_execute`` and ``close``."""

    #: Registry name, e.g. ``docker``, ``local``, ``unsafe-subprocess``.
    name: ClassVar[str] = "abstract"
    #: False only for the explicit ``unsafe-subprocess`` backend.
    isolating: ClassVar[bool] = True

    def execute(
        self,
        code: str,
        *,
        timeout_s: float = 10.0,
        seed: int = 0,
        output_cap: int = TOOL_OUTPUT_CAP,
        globals_: dict[str, Any] | None = None,
    ) -> ExecResult:
        """Run ``code``; ``globals_`` (JSON-serialisable) are pre-set in ``__main__``."""
        if not isinstance(seed, int) or not 0 <= seed < MAX_SEED:
            raise ValueError(f"seed must be an int in [0, 2**63), got {seed!r}")
        if timeout_s <= 0:
            raise ValueError("timeout_s must be positive")
        return self._execute(code, timeout_s=timeout_s, seed=seed, output_cap=output_cap, globals_=globals_ or {})

    async def aexecute(
        self,
        code: str,
        *,
        timeout_s: float = 10.0,
        seed: int = 0,
        output_cap: int = TOOL_OUTPUT_CAP,
        globals_: dict[str, Any] | None = None,
    ) -> ExecResult:
        return await asyncio.to_thread(
            self.execute, code, timeout_s=timeout_s, seed=seed, output_cap=output_cap, globals_=globals_
        )

    @abstractmethod
    def _execute(
        self, code: str, *, timeout_s: float, seed: int, output_cap: int, globals_: dict[str, Any]
    ) -> ExecResult: ...

    def layers(self) -> list[IsolationLayer]:
        """The confinement layers this backend has active (for reports and traces)."""
        return []

    def describe(self) -> dict[str, Any]:
        """JSON-able description recorded in run.json and traces."""
        return {"backend": self.name, "isolating": self.isolating, "layers": [l.model_dump() for l in self.layers()]}

    def close(self) -> None:
        """Release processes/containers. Idempotent."""

    def __enter__(self) -> "Sandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: Sandbox backends by name (``--sandbox NAME``): factories ``(spec: SandboxSpec) -> Sandbox``, raising
#: SandboxUnavailableError when the backend cannot start here. The built-ins are registered in
#: :mod:`stochbox.sandbox.factory`; other distributions add theirs through the entry-point group
#: ``stochbox.sandboxes``. ``auto`` is not a backend but a choice among the built-ins (``open_sandbox``).
SANDBOXES: Registry[Callable[["SandboxSpec"], "Sandbox"]] = Registry("sandbox backend", group="stochbox.sandboxes")
AUTO = "auto"
AUTO_HELP = "Docker if an engine answers, else the local jail"


def backend_names() -> list[str]:
    """``auto`` and every registered backend, in registration order."""
    return [AUTO, *SANDBOXES.names()]


def backends_help() -> str:
    """``auto (...), docker, local, or unsafe-subprocess (NO isolation)``: for ``--sandbox``'s help."""
    parts = [f"{AUTO} ({AUTO_HELP})"] + [f"{p.name} ({p.help})" if p.help else p.name for p in SANDBOXES.plugins()]
    return ", ".join(parts[:-1]) + ", or " + parts[-1]


def known_backend(name: str) -> str:
    """``name`` when it is ``auto`` or a registered backend; ValueError naming the choices otherwise."""
    if name != AUTO and name not in SANDBOXES:
        raise ValueError(f"unknown backend '{name}'; use {', '.join(backend_names())}")
    return name


class SandboxSpec(BaseModel):
    """How to open a sandbox (the ``--sandbox`` option and its knobs)."""

    model_config = ConfigDict(extra="forbid")

    backend: str = AUTO  # auto or a name registered in SANDBOXES
    pool_size: int = Field(default=1, ge=1, le=256)
    memory_mb: int = Field(default=1024, ge=64)
    cpus: float = Field(default=1.0, gt=0)
    pids: int = Field(default=64, ge=8)
    image: str = "stochbox-sandbox:latest"
    #: Extra Docker container options. They may only *add* confinement; one that would
    #: weaken the hardened defaults is a ConfigError (see ``sandbox/docker_options.py``).
    docker_options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, name: str) -> str:
        return known_backend(name)
