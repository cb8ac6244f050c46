"""Choose and open a backend by name (``--sandbox auto|docker|local|unsafe-subprocess|...``).

The built-in backends are registered here, once each, in
:data:`~stochbox.sandbox.base.SANDBOXES` (which also lists third-party
backends from the ``stochbox.sandboxes`` entry-point group); each factory
imports its backend only when called.

Contract: ``open_sandbox`` returns a ready :class:`Sandbox` or raises
:class:`~stochbox.errors.SandboxUnavailableError` explaining what to install.
``auto`` prefers Docker when an engine answers, then the local jail; it
never falls back to ``unsafe-subprocess``, which must be asked for by name
(its :attr:`Sandbox.isolating` is False, and runs record that).
"""

from __future__ import annotations

from stochbox.errors import ConfigError, SandboxUnavailableError
from stochbox.sandbox.base import AUTO, SANDBOXES, Sandbox, SandboxSpec, backend_names

_INSTALL = (
    "install Docker (apt-get install docker.io, then build the image with: stochbox sandbox build-image) "
    "or bubblewrap (apt-get install bubblewrap python3-numpy python3-scipy); "
    "--sandbox unsafe-subprocess runs code unconfined"
)


def docker_engine_answers() -> bool:
    """True when the Docker backend is importable and an engine answers (never raises)."""
    try:
        from stochbox.sandbox.docker_backend import docker_available
    except ImportError:
        return False
    try:
        return bool(docker_available())
    except Exception:  # an engine in a bad state is an absent engine for 'auto'
        return False


@SANDBOXES.register("docker")
def _open_docker(spec: SandboxSpec) -> Sandbox:
    try:
        from stochbox.sandbox.docker_backend import DockerSandbox
    except ImportError as exc:
        raise SandboxUnavailableError(f"the docker backend cannot be loaded: {exc}", hint=_INSTALL) from exc
    return DockerSandbox(spec)


@SANDBOXES.register("local")
def _open_local(spec: SandboxSpec) -> Sandbox:
    from stochbox.sandbox.local import LocalSandbox

    return LocalSandbox(spec)


@SANDBOXES.register("unsafe-subprocess", help="NO isolation")
def _open_unsafe(spec: SandboxSpec) -> Sandbox:
    from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox

    return UnsafeSubprocessSandbox(spec=spec)


def open_sandbox(spec: SandboxSpec | str = AUTO, **overrides: object) -> Sandbox:
    if isinstance(spec, str):
        spec = SandboxSpec(backend=spec, **overrides)
    elif overrides:
        spec = spec.model_copy(update=overrides)
    if spec.backend != AUTO:
        factory = SANDBOXES.factory(spec.backend)
        if factory is None:  # a spec changed with model_copy is not validated again
            raise ConfigError(f"unknown sandbox backend '{spec.backend}'", hint=f"use {', '.join(backend_names())}")
        sandbox = factory(spec)
        if not isinstance(sandbox, Sandbox):
            raise SandboxUnavailableError(
                f"sandbox backend '{spec.backend}' (entry point in group '{SANDBOXES.group}') did not give a stochbox Sandbox",
                hint="point the entry point at a factory (spec: SandboxSpec) -> Sandbox",
            )
        return sandbox
    # auto: Docker when an engine answers, else the local jail; never unconfined.
    problems = []
    if docker_engine_answers():
        try:
            return _open_docker(spec)
        except SandboxUnavailableError as exc:
            problems.append(f"docker: {exc}")
    else:
        problems.append("docker: no engine answers")
    try:
        return _open_local(spec)
    except SandboxUnavailableError as exc:
        problems.append(f"local: {exc}")
    raise SandboxUnavailableError("no isolating sandbox can start here (" + "; ".join(problems) + ")", hint=_INSTALL)
