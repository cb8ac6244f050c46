"""User-facing errors.

Contract: every mistake a *user* can make (a malformed scenario file, an unknown
model string, an unwritable run folder, a missing optional extra) raises a
subclass of :class:`StochboxError`. The CLI prints ``str(err)`` on one line and
exits with ``err.exit_code`` -- never a traceback. Bugs in stochbox itself are
*not* StochboxErrors and keep their tracebacks.

Messages name the file, field or scenario and say what to do.
"""

from __future__ import annotations


class StochboxError(Exception):
    """Base of all user-facing errors. ``exit_code`` is what the CLI exits with."""

    exit_code: int = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")


class ConfigError(StochboxError):
    """A command-line option or configuration value is invalid."""


class ScenarioError(StochboxError):
    """A scenario or pack file is malformed. Carries the file, line and field."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
        hint: str | None = None,
    ) -> None:
        self.file, self.line, self.field = file, line, field
        where = file or "<scenario>"
        if line is not None:
            where += f":{line}"
        if field:
            where += f": field '{field}'"
        super().__init__(f"{where}: {message}", hint=hint)


class UnknownScenarioError(StochboxError):
    """A scenario id or pack name does not exist."""


class ModelSpecError(StochboxError):
    """A ``--model`` string cannot be resolved to a model."""


class MissingExtraError(StochboxError):
    """An optional dependency is not installed; the message names the pip extra."""

    def __init__(self, what: str, extra: str) -> None:
        super().__init__(
            f"{what} needs the optional extra '{extra}'",
            hint=f"install it with: pip install 'stochbox[{extra}]'",
        )


class SandboxUnavailableError(StochboxError):
    """No isolating sandbox backend can start here; the message says what to install."""

    exit_code = 3


class RunStoreError(StochboxError):
    """The run folder cannot be created, read or written (permissions, disk full, foreign folder)."""

    exit_code = 4
