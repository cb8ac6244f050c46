"""What an agent is to the runner.

Contract: an :class:`Agent` turns one :class:`EpisodeContext` into one
:class:`EpisodeOutcome`. ``arun_episode`` must not raise for anything a
model, parser, tool or sandbox does wrong: those become an outcome with a
non-ok ``status`` and a ``reason`` (and ``error`` events in the trace). It may
raise only :class:`~stochbox.errors.StochboxError` for configuration mistakes
detected before any work, and ``asyncio.CancelledError``.

Every model call, tool call, sandbox execution and parse outcome is emitted
through ``ctx.emit`` (bound to the episode), so the trace alone can audit and
replay the episode.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stochbox.conditions import ResolvedCondition
from stochbox.results import EpisodeStatus, Mode
from stochbox.sandbox.base import Sandbox
from stochbox.scenarios.models import Scenario


@dataclass(frozen=True)
class AgentLimits:
    max_model_calls: int = 8
    max_tool_calls: int = 6
    exec_timeout_s: float = 10.0
    episode_timeout_s: float = 300.0
    tool_output_cap: int = 4096
    # provider calls (see stochbox.agents.retry / stochbox.agents.limiter): transient failures are retried
    max_retries: int = 6
    request_timeout_s: float | None = None  # per model-call attempt; None: only the episode deadline
    max_connections: int | None = None  # per provider; None: only --concurrency bounds it


@dataclass
class EpisodeContext:
    """Everything one episode needs. ``emit(event, **fields)`` writes a trace event for this episode."""

    run_id: str
    episode_id: str
    scenario: Scenario
    mode: Mode
    n_samples: int  # 1 for the independent protocol, N for batch
    seed: int  # the episode seed; sandbox executions use derive_seed(seed, "exec", k)
    emit: Callable[..., Any]
    sandbox: Sandbox | None = None  # present in tool mode (and for baselines that need it)
    limits: AgentLimits = field(default_factory=AgentLimits)
    reference: list[Any] | None = None  # reference samples (baselines only; LLM agents never see them)
    condition: ResolvedCondition | None = None  # prompts, structured output, provider options (None: the defaults)


@dataclass
class EpisodeOutcome:
    status: EpisodeStatus
    samples: list[Any] = field(default_factory=list)
    reason: str | None = None
    raw_answer: str | None = None
    n_model_calls: int = 0
    n_tool_calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    tool_code: list[str] = field(default_factory=list)


class Agent(ABC):
    """An answerer for scenarios. ``name`` is the ``--model`` string it came from."""

    name: str
    #: Modes this agent supports (baselines answer the same way in both).
    modes: tuple[Mode, ...] = (Mode.native, Mode.tool)
    #: Baselines see ``ctx.reference``; LLM agents must not.
    needs_reference: bool = False

    @abstractmethod
    async def arun_episode(self, ctx: EpisodeContext) -> EpisodeOutcome: ...

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}

    async def aclose(self) -> None:
        """Release model resources. Idempotent."""


@dataclass(frozen=True)
class AgentOptions:
    """Model options from the command line, passed to ``resolve_agent``.

    ``tool_protocol``: ``auto`` (function calling where the model supports
    it, else code blocks), ``functions`` or ``code``. ``api_key_env`` names
    the environment variable holding the key (never the key itself, so it is
    never written to run.json). ``openai_client`` picks the client behind
    ``openai:`` models (see :mod:`stochbox.agents.openai_http`).
    """

    tool_protocol: str = "auto"
    base_url: str | None = None
    api_key_env: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    threads: int = 1
    openai_client: str = "stochbox"  # openai: models: stochbox (lean aiohttp client) | langchain (langchain-openai)
    limits: AgentLimits = field(default_factory=AgentLimits)
