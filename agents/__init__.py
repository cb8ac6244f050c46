"""Agents: what answers scenarios (LLM graphs in native and tool mode, baselines).

Public surface::

    from stochbox.agents import Agent, AgentOptions, AgentLimits, EpisodeContext, EpisodeOutcome
"""

from stochbox.agents.base import Agent, AgentLimits, AgentOptions, EpisodeContext, EpisodeOutcome

__all__ = ["Agent", "AgentLimits", "AgentOptions", "EpisodeContext", "EpisodeOutcome"]
