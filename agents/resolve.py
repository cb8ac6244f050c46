"""Turn a ``--model`` string into an :class:`~stochbox.agents.base.Agent`.

Contract: ``resolve_agent(spec, options)`` returns a ready agent or raises
:class:`~stochbox.errors.ModelSpecError` (or another StochboxError, e.g. a
missing extra) naming the spec and the supported forms.

A spec is ``PREFIX:REST``. Prefixes are registered once in :data:`MODELS`
(a :class:`~stochbox.plugins.Registry`): the built-ins below, and third-party
ones through the entry-point group ``stochbox.models``, each a factory
``(spec: str, options: AgentOptions) -> Agent`` given the whole spec. Any
other prefix is a LangChain ``init_chat_model`` provider
(``anthropic:...``), handled by :func:`stochbox.agents.llm.make_llm_agent`.
Factories import their agents only when called, so baseline runs never load
LLM libraries.
"""

from __future__ import annotations

from collections.abc import Callable

from stochbox.agents.base import Agent, AgentOptions
from stochbox.errors import ModelSpecError
from stochbox.plugins import Registry

ModelFactory = Callable[[str, AgentOptions], Agent]

#: ``--model PREFIX:...`` -> the factory of its agents.
MODELS: Registry[ModelFactory] = Registry("model prefix", group="stochbox.models")

LANGCHAIN_FORM = "a LangChain init_chat_model string such as openai:gpt-4o-mini"


def supported_forms() -> str:
    """The ``--model`` forms, for help texts and error hints."""
    return ", ".join(p.help or f"{p.name}:..." for p in MODELS.plugins()) + f", or {LANGCHAIN_FORM}"


@MODELS.register("baseline", help="baseline:oracle, baseline:collapse")
def baseline_agent(spec: str, options: AgentOptions) -> Agent:
    from stochbox.agents.baselines import BASELINES, make_baseline

    if spec not in BASELINES:
        raise ModelSpecError(f"unknown baseline '{spec}'", hint=f"baselines are {', '.join(BASELINES)}")
    return make_baseline(spec)


@MODELS.register("scripted", help="scripted:PATH")
def scripted_agent(spec: str, options: AgentOptions) -> Agent:
    return llm_agent(spec, options)


@MODELS.register("local", help="local:NAME")
def local_agent(spec: str, options: AgentOptions) -> Agent:
    return llm_agent(spec, options)


def llm_agent(spec: str, options: AgentOptions) -> Agent:
    """An LLM agent (:func:`stochbox.agents.llm.make_llm_agent`: scripted, local, LangChain providers)."""
    try:
        from stochbox.agents.llm import make_llm_agent
    except ModuleNotFoundError as exc:
        if exc.name != "stochbox.agents.llm":
            raise
        raise ModelSpecError(
            f"model '{spec}' needs the LLM agents, which this installation does not have",
            hint=f"supported here: {MODELS.get('baseline').help}; with LLM agents: {supported_forms()}",  # type: ignore[union-attr]
        ) from None
    return make_llm_agent(spec, options)


def resolve_agent(spec: str, options: AgentOptions | None = None) -> Agent:
    spec = spec.strip()
    options = options or AgentOptions()
    prefix, colon, _ = spec.partition(":")
    if not colon:
        raise ModelSpecError(f"cannot resolve model '{spec}'", hint=f"use {supported_forms()}")
    factory = MODELS.factory(prefix) or llm_agent
    agent = factory(spec, options)
    if not isinstance(agent, Agent):
        raise ModelSpecError(
            f"model prefix '{prefix}' (entry point in group '{MODELS.group}') did not give a stochbox Agent",
            hint="point the entry point at a factory (spec, options) -> Agent",
        )
    return agent
