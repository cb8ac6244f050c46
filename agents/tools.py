"""Tools an agent may call in tool mode, and where they come from.

A :class:`Tool` has a ``name``, a ``description``, a pydantic ``args_schema``
(offered to the model as a JSON schema and used to validate its arguments)
and ``arun(args, runtime)`` returning the text the model sees.

Contract for tool authors:

* Anything derived from model input runs through ``runtime.execute`` -- in the
  episode's sandbox, with the episode's execution seeds, limits and trace
  events -- never in the host process.
* ``arun`` may raise: :class:`ToolError` becomes an error message to the model
  (its text is shown); any other exception too (its type and text are shown)
  and is recorded as an ``error`` event. Neither ends the episode.

Sources, merged by :func:`stochbox.agents.tool_sources.available_tools`:

1. built-in: ``python`` (run code in the sandbox);
2. the scenario's pack: ``tools:`` in ``pack.yaml`` (see :mod:`stochbox.agents.pack_tools`);
3. third-party: entry points in the group ``stochbox.tools``; each names a
   :class:`Tool` subclass or a zero-argument factory returning a :class:`Tool`.

A scenario's ``tools:`` list restricts which of these are offered.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Protocol

from pydantic import BaseModel, Field

from stochbox.sandbox.base import ExecResult

#: Name of the protocol step that ends an episode (not a registry tool; always offered).
SUBMIT = "submit"


class ToolError(Exception):
    """A tool failed in a way the model should be told about (the message is shown to it)."""


class ToolRuntime(Protocol):
    """What a tool may use during an episode (implemented by the episode ledger)."""

    async def execute(self, code: str, *, tool: str, globals_: dict[str, Any] | None = None) -> ExecResult:
        """Run ``code`` in the episode sandbox with the next execution seed; never raises for what the code does."""
        ...


class Tool(ABC):
    """Base of all tools. Subclasses set ``name``, ``description`` and ``args_schema`` (class or instance attributes).

    One instance serves every episode of a run that may use it, several at once:
    ``arun`` must keep no per-episode state on the instance (what an episode
    needs arrives in ``args`` and ``runtime``).
    """

    name: str
    description: str
    args_schema: type[BaseModel]

    @abstractmethod
    async def arun(self, args: BaseModel, runtime: ToolRuntime) -> str: ...

    def function_schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema offered through ``bind_tools``."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.args_schema.model_json_schema(),
            },
        }

    def code_signature(self) -> str | None:
        """How the tool reads as a predefined function in the code-block protocol (None: not offered there)."""
        return None

    def code_prelude(self) -> tuple[str, dict[str, Any]] | None:
        """Code (and its globals) defining the tool as a function inside a code block, or None."""
        return None


def format_exec_result(res: ExecResult, *, timeout_s: float | None = None) -> str:
    """The text a model sees for one execution: stdout, then stderr and the exit status if not clean."""
    if res.sandbox_error:
        return f"[sandbox error: {res.sandbox_error}]"
    parts = [res.stdout.rstrip("\n") if res.stdout.strip() else "(no output on stdout)"]
    if res.stderr.strip():
        parts.append("[stderr]\n" + res.stderr.rstrip("\n"))
    if res.timed_out:
        limit = f" after {timeout_s:g} s" if timeout_s else ""
        parts.append(f"[killed: time limit{limit} exceeded]")
    elif res.killed_reason:
        parts.append(f"[killed: {res.killed_reason} limit]")
    elif res.exit_code != 0:
        parts.append(f"[exit code {res.exit_code}]")
    if res.truncated:
        parts.append("[output truncated]")
    return "\n".join(parts)


class PythonArgs(BaseModel):
    code: str = Field(description="Python 3 source to run; print the values you need.")


class PythonTool(Tool):
    name = "python"
    description = (
        "Run Python 3 code in a fresh sandboxed process and return its stdout/stderr. "
        "Nothing persists between calls; numpy and scipy are installed; random and numpy.random are pre-seeded."
    )
    args_schema = PythonArgs

    async def arun(self, args: BaseModel, runtime: ToolRuntime) -> str:
        assert isinstance(args, PythonArgs)
        res = await runtime.execute(args.code, tool=self.name)
        return format_exec_result(res)


BUILTIN_TOOLS: dict[str, type[Tool]] = {"python": PythonTool}
