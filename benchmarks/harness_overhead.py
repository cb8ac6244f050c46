"""Harness overhead: episodes per second through ``start_run`` vs a bare loop calling the same model.

The model is an instant scripted chat model (``scripted:PATH``), so the time
is all harness: the agent (native: the straight model -> parse path of
``agents/native.py``; tool mode: the LangGraph graph), ledger, retry/limiter,
parsing, trace events, one SQLite commit per episode. Native mode answers ``{"answer": x}``; tool
mode calls ``submit`` directly (tool binding, routing and validation, no
sandbox execution, whose latency is benchmarks/sandbox_latency.py's subject).

Also measured: the agent alone (``arun_episode`` in a loop with a no-op
``emit``), which separates the agent's cost from the runner's (trace file,
store, scheduling), and a per-layer breakdown: the trace (the six events a native episode emits, recorded from a real episode,
written by ``TraceWriter``), and one ``RunStore.put``.

The bare loop, measured in the same run, calls the model the way the harness
does: one scripted model instance for the scenario and mode (the scripted
backend keeps one per (scenario, mode)), ``ainvoke`` with the same prompt
messages, ``json.loads`` of the answer: what a hand-written script would do
with no graph, no trace and no store.

Run:  .venv/bin/python benchmarks/harness_overhead.py [--episodes 2000] [--concurrency 8]
Target: harness time per episode <= 3x the bare loop's in native mode.
For scale it also prints what LangGraph alone costs per invoke for a
two-step graph whose nodes do nothing (why native mode does not use it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import sys
import time
from pathlib import Path
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langgraph.graph import END, START, StateGraph

from stochbox.agents.base import EpisodeContext
from stochbox.agents.llm import make_llm_agent
from stochbox.agents.prompts import native_system, user_prompt
from stochbox.agents.scripted import load_script, scripted_model
from stochbox.agents.toolmode import EpisodeState
from stochbox.run.config import RunConfig
from stochbox.results import EpisodeRecord, EpisodeStatus, Mode
from stochbox.run.runner import start_run
from stochbox.sandbox import open_sandbox
from stochbox.scenarios import resolve_packs, select_scenarios
from stochbox.scenarios.models import Scenario
from stochbox.run.store import RunStore
from stochbox.run.trace import TraceWriter
from stochbox.testing.scenario_texts import UNIT  # the scenario the tests use too

SCRIPT = """
native:
  - text: '{"answer": 0.25}'
tool:
  - tool_calls:
      - name: submit
        args: {answer: 0.25}
"""


def write_inputs(root: Path) -> tuple[Path, Path]:
    pack = root / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: bench\nversion: '0.1'\ndescription: benchmark pack\n")
    (pack / "unit.yaml").write_text(UNIT)
    script = root / "instant.yaml"
    script.write_text(SCRIPT)
    return pack, script


def _scenario(pack: Path) -> Scenario:
    return select_scenarios(resolve_packs([str(pack)]), None)[0]


async def bare_loop(script_path: Path, pack: Path, episodes: int) -> float:
    scenario = _scenario(pack)
    model = scripted_model(load_script(script_path), scenario.id, "native", source=str(script_path))
    messages = [SystemMessage(native_system(scenario, 1, structured=False)), HumanMessage(user_prompt(scenario, 1))]
    t0 = time.perf_counter()
    for _ in range(episodes):
        reply = await model.ainvoke(messages)
        json.loads(reply.text)["answer"]
    return time.perf_counter() - t0


async def agent_loop(script_path: Path, pack: Path, episodes: int, record: list | None = None) -> float:
    """The agent alone (LangGraph graph, ledger, retry/limiter, parsing): no runner, trace file or store.

    ``record``: receives the (event, fields) pairs the first episode emits.
    """
    agent = make_llm_agent(f"scripted:{script_path}")
    scenario = _scenario(pack)

    def keep(event: str, **fields: Any) -> None:
        if record is not None:
            record.append((event, fields))

    t0 = time.perf_counter()
    for i in range(episodes):
        emit = keep if i == 0 else (lambda *a, **k: None)
        ctx = EpisodeContext(run_id="bench", episode_id=f"e{i}", scenario=scenario, mode=Mode.native, n_samples=1, seed=i, emit=emit)
        outcome = await agent.arun_episode(ctx)
        assert outcome.samples == [0.25], outcome
    return time.perf_counter() - t0


async def graph_floor(episodes: int) -> float:
    """LangGraph alone: a graph of two steps (model -> parse) whose nodes do nothing."""

    async def step(state: EpisodeState) -> dict[str, Any]:
        return {}

    graph = StateGraph(EpisodeState)
    graph.add_node("model", step)
    graph.add_node("parse", step)
    graph.add_edge(START, "model")
    graph.add_edge("model", "parse")
    graph.add_edge("parse", END)
    compiled = graph.compile()
    messages = [SystemMessage("system"), HumanMessage("user")]
    t0 = time.perf_counter()
    for i in range(episodes):
        await compiled.ainvoke({"messages": messages}, {"configurable": {"episode": i}})
    return time.perf_counter() - t0


def trace_cost(root: Path, events: list, episodes: int) -> float:
    """``TraceWriter.emit`` of one native episode's events (as the agent emitted them, plus the runner's two)."""
    folder = root / f"trace-{time.monotonic_ns()}"
    folder.mkdir()
    writer = TraceWriter(folder, "bench")
    t0 = time.perf_counter()
    for i in range(episodes):
        episode_id = f"m/native/unit/{i}"
        writer.emit("episode_start", episode_id=episode_id, scenario="unit", mode="native", model="scripted", index=i, seed=i)
        for event, fields in events:
            writer.emit(event, episode_id=episode_id, **fields)
        writer.emit("episode_end", episode_id=episode_id, status="ok", n_samples=1, reason=None)
    elapsed = time.perf_counter() - t0
    writer.close()
    return elapsed


def store_cost(root: Path, episodes: int) -> float:
    """``RunStore.put`` of a native episode's record (one committed transaction each)."""
    folder = root / f"store-{time.monotonic_ns()}"
    folder.mkdir()
    records = [
        EpisodeRecord(
            run_id="bench", episode_id=f"m/native/unit/{i}", scenario="unit", pack="bench", model="m", mode=Mode.native,
            index=i, seed=i, n_requested=1, samples=[0.25], status=EpisodeStatus.ok, raw_answer='{"answer": 0.25}',
            n_model_calls=1, tokens_in=80, tokens_out=4, duration_s=0.001,
            started_at="2026-01-01T00:00:00.000+00:00", finished_at="2026-01-01T00:00:00.001+00:00",
        )
        for i in range(episodes)
    ]
    with RunStore(folder, create=True) as store:
        t0 = time.perf_counter()
        for record in records:
            store.put(record)
        return time.perf_counter() - t0


def harness(script: Path, pack: Path, root: Path, mode: str, episodes: int, concurrency: int, sandbox) -> float:
    cfg = RunConfig.model_validate(
        dict(models=[f"scripted:{script}"], packs=[str(pack)], modes=[mode], n=episodes, reference_n=1000, concurrency=concurrency, cache_dir=str(root / "cache"))
    )
    started: list[float] = []
    out = start_run(cfg, root / f"run-{mode}-{time.monotonic_ns()}", sandbox=sandbox, on_start=lambda info: started.append(time.perf_counter()))
    elapsed = time.perf_counter() - started[0]  # episodes only: references, agents and the run folder come before on_start
    assert out.statuses == {"ok": episodes}, out.statuses
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sandbox", default="auto", help="only generates the reference (once, then cached)")
    args = parser.parse_args()
    n = args.episodes
    events: list = []
    with tempfile.TemporaryDirectory() as tmp, open_sandbox(args.sandbox, pool_size=1) as sandbox:
        root = Path(tmp)
        pack, script = write_inputs(root)
        harness(script, pack, root, "native", 50, args.concurrency, sandbox)  # warm-up: reference cached, imports done
        asyncio.run(bare_loop(script, pack, 200))
        bare = asyncio.run(bare_loop(script, pack, n))
        asyncio.run(agent_loop(script, pack, 200, events))
        agent = asyncio.run(agent_loop(script, pack, n))
        native = harness(script, pack, root, "native", n, args.concurrency, sandbox)
        tool = harness(script, pack, root, "tool", n, args.concurrency, sandbox)
        asyncio.run(graph_floor(200))
        graph = asyncio.run(graph_floor(n))
        trace = trace_cost(root, events, n)
        store = store_cost(root, n)
    ms = 1e3 / n
    print(f"episodes: {n}, concurrency {args.concurrency}, load average {os.getloadavg()[0]:.2f} (the machine is shared: compare ratios)")
    print(f"bare loop      {n / bare:8.0f} ep/s  {bare * ms:6.2f} ms/episode")
    print(f"agent alone    {n / agent:8.0f} ep/s  {agent * ms:6.2f} ms/episode  ratio {agent / bare:.2f}x (ledger, retry, parsing; no trace/store)")
    print(f"harness native {n / native:8.0f} ep/s  {native * ms:6.2f} ms/episode  ratio {native / bare:.2f}x (target <= 3x)")
    print(f"harness tool   {n / tool:8.0f} ep/s  {tool * ms:6.2f} ms/episode  ratio {tool / bare:.2f}x")
    layers = {
        "model call (bare loop)": bare,
        "agent's own (ledger, retry, parsing)": agent - bare,
        f"trace ({len(events) + 2} events)": trace,
        "store put": store,
        "runner rest (by difference)": native - agent - trace - store,
    }
    print("native ms/episode by layer: " + ", ".join(f"{k} {v * ms:.3f}" for k, v in layers.items()))
    print(f"for scale: LangGraph alone, a 2-step graph of empty nodes: {graph * ms:.3f} ms per invoke ({graph / bare:.2f}x the bare loop)")


if __name__ == "__main__":
    main()
