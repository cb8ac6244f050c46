"""Choose and open a backend by name (``--sandbox auto|docker|local|unsafe-subprocess``).

Contract: ``open_sandbox`` returns a ready :class:`Sandbox` or raises
:class:`~stochbox.errors.SandboxUnavailableError` explaining what to install.
``auto`` prefers Docker when an engine answers, then the local jail; it
never falls back to ``unsafe-subprocess``, which must be asked for by name
(its :attr:`Sandbox.isolating` is False, and runs record that).
"""

from __future__ import annotations

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox.base import Sandbox, SandboxSpec

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


def _open_docker(spec: SandboxSpec) -> Sandbox:
    try:
        from stochbox.sandbox.docker_backend import DockerSandbox
    except ImportError as exc:
        raise SandboxUnavailableError(f"the docker backend cannot be loaded: {exc}", hint=_INSTALL) from exc
    return DockerSandbox(spec)


def _open_local(spec: SandboxSpec) -> Sandbox:
    from stochbox.sandbox.local import LocalSandbox

    return LocalSandbox(spec)


def open_sandbox(spec: SandboxSpec | str = "auto", **overrides: object) -> Sandbox:
    if isinstance(spec, str):
        spec = SandboxSpec(backend=spec, **overrides)
    elif overrides:
        spec = spec.model_copy(update=overrides)
    if spec.backend == "unsafe-subprocess":
        from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox

        return UnsafeSubprocessSandbox(spec=spec)
    if spec.backend == "docker":
        return _open_docker(spec)
    if spec.backend == "local":
        return _open_local(spec)
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
