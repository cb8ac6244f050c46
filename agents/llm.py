"""LLM agents: a chat model answering natively (one call, :mod:`stochbox.agents.native`) or through the tool-mode LangGraph graph.

``make_llm_agent(spec, options)`` accepts:

* ``scripted:PATH`` -- :mod:`stochbox.agents.scripted` (tests and demos);
* ``local:NAME`` -- :mod:`stochbox.agents.llama` (``local:smollm2`` or ``local:/path/model.gguf``);
* any ``langchain.chat_models.init_chat_model`` string (``openai:gpt-4o-mini``,
  ``anthropic:...``), with ``options.base_url`` for OpenAI-compatible servers
  (vLLM, Ollama, llama.cpp) and ``options.api_key_env`` naming the key's variable.
  ``openai:`` models go through :mod:`stochbox.agents.openai_http` (aiohttp)
  unless ``options.openai_client`` is ``langchain`` (langchain-openai).

Contract: construction raises :class:`~stochbox.errors.StochboxError` for a
bad spec or a missing extra; ``arun_episode`` never raises for what the
model, parser, tools or sandbox do (see :mod:`stochbox.agents.base`).
Samples are requested with seeds derived from the episode seed where the
provider accepts one, so local runs are reproducible.
"""

from __future__ import annotations

import asyncio
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import Runnable

from stochbox.agents.base import Agent, AgentOptions, EpisodeContext, EpisodeOutcome
from stochbox.agents.ledger import EpisodeLedger, LimitReached
from stochbox.agents.native import StructuredOutput, answer_natively, json_object_schema, native_prompt, openai_json_schema
from stochbox.agents.tool_sources import available_tools
from stochbox.agents.tools import Tool
from stochbox.agents.toolmode import build_tool_graph, function_schemas, tool_prompt
from stochbox.conditions import option_error, rejected_option
from stochbox.errors import MissingExtraError, ModelSpecError, StochboxError
from stochbox.results import EpisodeStatus, Mode
from stochbox.scenarios.models import Scenario
from stochbox.seeding import derive_seed

TOOL_PROTOCOLS = ("auto", "functions", "code")


@dataclass
class ModelBackend:
    """Where an episode's chat model comes from and what it can do."""

    kind: str  # scripted | local | chat
    model_for: Callable[[EpisodeContext], BaseChatModel | Runnable]
    tool_calling: bool
    structured: StructuredOutput | None
    details: dict[str, Any]
    close: Callable[[], None] | None = None
    #: Binds ``--model-option`` values to an episode's model (request fields; see stochbox.conditions).
    with_options: Callable[[Any, dict[str, Any]], Any] = lambda model, options: model.bind(**options)


def _supports_tool_calling(model: BaseChatModel) -> bool:
    return type(model).bind_tools is not BaseChatModel.bind_tools


def _model_seed(ctx: EpisodeContext) -> int:
    return derive_seed(ctx.seed, "model") & 0x7FFFFFFF


def scripted_backend(path: str) -> ModelBackend:
    from stochbox.agents.scripted import load_script, scripted_model

    script = load_script(path)
    # The model is stateless (turn k answers a conversation holding k replies), so one
    # instance serves every episode of a (scenario, mode); a new one per episode would
    # make langchain-core serialize it again for every call's callbacks.
    models: dict[tuple[str, str], BaseChatModel] = {}

    def model_for(ctx: EpisodeContext) -> BaseChatModel:
        key = (ctx.scenario.id, ctx.mode.value)
        model = models.get(key)
        if model is None:
            model = models[key] = scripted_model(script, *key, source=path)
        return model

    return ModelBackend(
        kind="scripted",
        model_for=model_for,
        tool_calling=script.tool_calling,
        structured=None,  # the script decides what it writes
        details={"script": path},
    )


def local_backend(name: str, options: AgentOptions) -> ModelBackend:
    from stochbox.agents.llama import LlamaChatModel, require_llama_cpp, resolve_model_path

    require_llama_cpp()
    path = resolve_model_path(name)
    kw: dict[str, Any] = {"model_path": str(path), "n_threads": options.threads}
    if options.max_tokens is not None:
        kw["max_tokens"] = options.max_tokens
    if options.temperature is not None:
        kw["temperature"] = options.temperature
    # One instance per mode: llama.cpp reuses the KV cache of the longest prompt
    # prefix it saw last, and native and tool prompts (different system prompts)
    # alternate in a paired run, so a shared instance would re-read every prompt.
    # The weights are memory-mapped, so a second instance costs little memory.
    llamas: dict[str, LlamaChatModel] = {}

    def model_for(ctx: EpisodeContext) -> Any:
        llama = llamas.get(ctx.mode.value)
        if llama is None:
            llama = llamas[ctx.mode.value] = LlamaChatModel(**kw)
        return llama.bind(seed=_model_seed(ctx))

    def close() -> None:
        for llama in llamas.values():
            llama.close()

    probe = LlamaChatModel(**kw)  # only for the details below; loads nothing
    return ModelBackend(
        kind="local",
        model_for=model_for,
        tool_calling=False,
        structured=StructuredOutput([json_object_schema]),
        details={"model_path": str(path), "n_threads": probe.n_threads, "n_ctx": probe.n_ctx, "max_tokens": probe.max_tokens},
        close=close,
    )


OPENAI_CLIENTS = ("stochbox", "langchain")


def chat_backend(spec: str, options: AgentOptions) -> ModelBackend:
    if options.openai_client not in OPENAI_CLIENTS:
        raise ModelSpecError(f"unknown OpenAI client '{options.openai_client}'", hint=f"use one of {', '.join(OPENAI_CLIENTS)}")
    if spec.startswith("openai:") and options.openai_client == "stochbox":
        return openai_compat_backend(spec, options)
    try:
        from langchain.chat_models import init_chat_model
    except ImportError:
        raise MissingExtraError(f"model '{spec}'", "openai") from None
    kw: dict[str, Any] = {}
    if options.base_url:
        kw["base_url"] = options.base_url
    if options.api_key_env:
        key = os.environ.get(options.api_key_env)
        if not key:
            raise ModelSpecError(f"environment variable {options.api_key_env} (the API key for '{spec}') is not set")
        kw["api_key"] = key
    elif options.base_url:
        kw["api_key"] = "not-needed"  # local OpenAI-compatible servers ignore the key but the client wants one
    if options.temperature is not None:
        kw["temperature"] = options.temperature
    if options.max_tokens is not None:
        kw["max_tokens"] = options.max_tokens
    if spec.startswith(("openai:", "anthropic:")):
        kw["max_retries"] = 0  # stochbox.agents.retry owns the policy (traced, adaptive); client retries would multiply it
    if spec.startswith("openai:"):
        kw["http_async_client"] = _openai_async_client()
    try:
        if spec.startswith("openai:"):  # init_chat_model's class, keeping the reasoning text it would drop
            from stochbox.agents.reasoning import chat_openai_keeping_reasoning

            model = chat_openai_keeping_reasoning(model=spec.split(":", 1)[1], **kw)
        else:
            model = init_chat_model(spec, **kw)
    except ImportError as exc:
        provider = spec.split(":", 1)[0]
        raise ModelSpecError(
            f"model '{spec}' needs a LangChain integration package that is not installed ({exc})",
            hint="for openai: pip install 'stochbox[openai]'" if provider == "openai" else f"install langchain-{provider}",
        ) from None
    except Exception as exc:  # unknown provider, missing key, bad option: all the user's to fix
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ModelSpecError(
            f"cannot create model '{spec}': {first_line}",
            hint="set the provider's API key variable (or name it with --api-key-env), or give --base-url",
        ) from None
    is_openai = spec.startswith("openai:")
    return ModelBackend(
        # the openai SDK's create() takes only the fields it knows as keywords; extra_body sends any field
        with_options=(lambda m, opts: m.bind(extra_body=opts)) if is_openai else (lambda m, opts: m.bind(**opts)),
        kind="chat",
        model_for=(lambda ctx: model.bind(seed=_model_seed(ctx))) if is_openai else (lambda ctx: model),
        tool_calling=_supports_tool_calling(model),
        structured=StructuredOutput([openai_json_schema, json_object_schema]) if is_openai else None,
        details={"provider": spec.split(":", 1)[0], "base_url": options.base_url}
        | ({"client": "langchain-openai"} if is_openai else {}),
    )


def openai_compat_backend(spec: str, options: AgentOptions) -> ModelBackend:
    """``openai:NAME`` through :mod:`stochbox.agents.openai_http` (aiohttp; the default client).

    Keys: ``--api-key-env`` names the variable; without it, OpenAI itself takes
    ``OPENAI_API_KEY`` and a ``--base-url`` server gets no key (a local server must
    not receive the user's OpenAI key)."""
    try:
        import aiohttp

        from stochbox.agents.openai_http import OPENAI_BASE_URL, OpenAICompatChatModel
    except ImportError:
        raise MissingExtraError(f"model '{spec}'", "openai") from None
    name = spec.split(":", 1)[1]
    base_url = options.base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE_URL
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:  # else every call would fail, and be retried
        raise ModelSpecError(f"base URL '{base_url}' of '{spec}' is not an http(s) URL", hint="e.g. --base-url http://127.0.0.1:8000/v1")
    if options.api_key_env:
        key = os.environ.get(options.api_key_env)
        if not key:
            raise ModelSpecError(f"environment variable {options.api_key_env} (the API key for '{spec}') is not set")
    elif options.base_url:
        key = None
    else:
        key = os.environ.get("OPENAI_API_KEY")
        if not key and base_url == OPENAI_BASE_URL:
            raise ModelSpecError(
                f"environment variable OPENAI_API_KEY (the API key for '{spec}') is not set",
                hint="set it, name another variable with --api-key-env, or give --base-url for an OpenAI-compatible server",
            )
    model = OpenAICompatChatModel(
        model=name, base_url=base_url, api_key=key, temperature=options.temperature, max_tokens=options.max_tokens
    )
    return ModelBackend(
        kind="chat",
        model_for=lambda ctx: model.bind(seed=_model_seed(ctx)),
        tool_calling=True,
        structured=StructuredOutput([openai_json_schema, json_object_schema]),
        details={"provider": "openai", "base_url": options.base_url, "client": "stochbox", "http": f"aiohttp {aiohttp.__version__}"},
        close=model.close,
    )


def _openai_async_client() -> Any:
    """A connection pool of this agent's own: langchain-openai's default one is cached per process, so its
    connections outlive the event loop of one run and fail in the next ("Event loop is closed"); and its
    100 keep-alive connections would make every call beyond 100 concurrent ones reconnect."""
    import openai

    limits = type(openai.DEFAULT_CONNECTION_LIMITS)(max_connections=4096, max_keepalive_connections=4096, keepalive_expiry=30.0)
    return openai.DefaultAsyncHttpxClient(limits=limits)


class LLMAgent(Agent):
    """A chat model answering natively (one call, then parse) or through the tool-mode LangGraph graph."""

    def __init__(self, name: str, backend: ModelBackend, options: AgentOptions) -> None:
        if options.tool_protocol not in TOOL_PROTOCOLS:
            raise ModelSpecError(f"unknown tool protocol '{options.tool_protocol}'", hint=f"use one of {', '.join(TOOL_PROTOCOLS)}")
        protocol = options.tool_protocol
        if protocol == "auto":
            protocol = "functions" if backend.tool_calling else "code"
        elif protocol == "functions" and not backend.tool_calling:
            raise ModelSpecError(
                f"model '{name}' has no function calling", hint="use --tool-protocol code (or auto)"
            )
        self.name = name
        self.backend = backend
        self.options = options
        self.tool_protocol = protocol
        self._tool = build_tool_graph(protocol)  # type: ignore[arg-type]
        self._tools: dict[tuple[str, str | None, tuple[str, ...] | None], tuple[dict[str, Tool], list[dict[str, Any]]]] = {}

    def _tools_for(self, scenario: Scenario) -> tuple[dict[str, Tool], list[dict[str, Any]]]:
        """The scenario's tools and their function schemas, found once per agent: discovery reads every
        installed distribution's entry points (milliseconds), pydantic rebuilds a schema on every call,
        and tools keep no episode state (the episode comes in as ``runtime``)."""
        key = (scenario.id, scenario.source, tuple(scenario.tools) if scenario.tools is not None else None)
        found = self._tools.get(key)
        if found is None:  # a ScenarioError is not cached: it recurs, and is reported, per episode
            tools = available_tools(scenario)
            found = self._tools[key] = (tools, function_schemas(tools) if self.tool_protocol == "functions" else [])
        return found

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "backend": self.backend.kind,
            "tool_protocol": self.tool_protocol,
            "structured_output": self.backend.structured is not None and self.backend.structured.enabled,
            **self.backend.details,
        }

    async def arun_episode(self, ctx: EpisodeContext) -> EpisodeOutcome:
        ledger = EpisodeLedger(ctx)
        condition = ctx.condition
        options = condition.model_options if condition is not None else {}
        structured = self.backend.structured if condition is None or condition.structured_output == "auto" else None
        try:
            model = self.backend.model_for(ctx)
            if options:
                model = self.backend.with_options(model, options)
            tools, schemas = self._tools_for(ctx.scenario) if ctx.mode is Mode.tool else ({}, [])
        except StochboxError as exc:
            ledger.emit("error", where="setup", message=str(exc))
            return ledger.outcome(EpisodeStatus.failed, reason=str(exc))
        try:
            # asyncio.timeout, not wait_for: no extra task per episode, and no swallowed cancellation
            async with asyncio.timeout(max(ledger.remaining_s(), 1e-3)):
                if ctx.mode is Mode.tool:
                    prompt = tool_prompt(self.tool_protocol, ctx, tools, ledger.output_cap)  # type: ignore[arg-type]
                    config = {
                        "configurable": {"ctx": ctx, "ledger": ledger, "model": model, "tools": tools, "tool_schemas": schemas},
                        "recursion_limit": 4 * ctx.limits.max_model_calls + 16,
                    }
                    state = await self._tool.ainvoke({"messages": prompt}, config)
                    parsed, raw_answer = state.get("parsed"), state.get("raw_answer")
                else:
                    prompt = native_prompt(ctx, structured)
                    parsed, raw_answer = await answer_natively(ctx, ledger, model, prompt, structured)
        except LimitReached as exc:
            return ledger.finish(None, raw_answer=None, stopped_by=exc.limit)
        except TimeoutError:
            ledger.hit("episode_timeout_s", ctx.limits.episode_timeout_s)
            return ledger.finish(None, raw_answer=None, stopped_by="episode_timeout_s")
        except (asyncio.CancelledError, StochboxError):
            raise  # a StochboxError here is a configuration mistake (e.g. ModelOptionError): the run stops
        except Exception as exc:  # provider errors, broken scripts: the episode failed, the run goes on
            key = rejected_option(exc, options)
            if key is not None:
                ledger.emit("error", where="model", message=f"{type(exc).__name__}: {exc}")
                raise option_error(exc, key, condition.name if condition else None) from None
            message = f"{type(exc).__name__}: {exc}"
            ledger.emit("error", where="model", message=message)
            return ledger.outcome(EpisodeStatus.failed, reason=message)
        stopped = ledger.limits_hit[-1] if parsed is None and ledger.limits_hit else None
        return ledger.finish(parsed, raw_answer=raw_answer, stopped_by=stopped)

    async def aclose(self) -> None:
        if self.backend.close is not None:
            self.backend.close()
            self.backend.close = None


def make_llm_agent(spec: str, options: AgentOptions | None = None) -> Agent:
    """Build the agent for a non-baseline ``--model`` string; raises StochboxError for bad specs."""
    options = options or AgentOptions()
    if options.tool_protocol not in TOOL_PROTOCOLS:
        raise ModelSpecError(f"unknown tool protocol '{options.tool_protocol}'", hint=f"use one of {', '.join(TOOL_PROTOCOLS)}")
    kind, _, rest = spec.partition(":")
    if not rest:
        raise ModelSpecError(f"cannot resolve model '{spec}'", hint="use scripted:PATH, local:NAME or provider:model")
    if kind == "scripted":
        backend = scripted_backend(rest)
    elif kind == "local":
        backend = local_backend(rest, options)
    else:
        backend = chat_backend(spec, options)
    return LLMAgent(spec, backend, options)
