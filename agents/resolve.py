"""Turn a ``--model`` string into an :class:`~stochbox.agents.base.Agent`.

Contract: ``resolve_agent(spec, options)`` returns a ready agent or raises
:class:`~stochbox.errors.ModelSpecError` (or another StochboxError, e.g. a
missing extra) naming the spec and the supported forms. Baselines are built
here; every other spec goes to ``stochbox.agents.llm.make_llm_agent``,
imported only when needed so that baseline runs never load LLM libraries.
"""

from __future__ import annotations

from stochbox.agents.base import Agent, AgentOptions
from stochbox.agents.baselines import BASELINES, make_baseline
from stochbox.errors import ModelSpecError

SUPPORTED_FORMS = (
    "baseline:oracle, baseline:collapse, scripted:PATH, local:NAME, "
    "or a LangChain init_chat_model string such as openai:gpt-4o-mini"
)


def resolve_agent(spec: str, options: AgentOptions | None = None) -> Agent:
    spec = spec.strip()
    options = options or AgentOptions()
    if spec.startswith("baseline:"):
        if spec not in BASELINES:
            raise ModelSpecError(f"unknown baseline '{spec}'", hint=f"baselines are {', '.join(BASELINES)}")
        return make_baseline(spec)
    if ":" not in spec:
        raise ModelSpecError(f"cannot resolve model '{spec}'", hint=f"use {SUPPORTED_FORMS}")
    try:
        from stochbox.agents.llm import make_llm_agent
    except ModuleNotFoundError as exc:
        if exc.name != "stochbox.agents.llm":
            raise
        raise ModelSpecError(
            f"model '{spec}' needs the LLM agents, which this installation does not have",
            hint=f"supported here: {', '.join(BASELINES)}; with LLM agents: {SUPPORTED_FORMS}",
        ) from None
    return make_llm_agent(spec, options)
