"""Harness overhead: episodes per second through ``start_run`` vs a bare loop calling the same model.

The model is an instant scripted chat model (``scripted:PATH``), so the time
is all harness: LangGraph graph, ledger, retry/limiter, parsing, trace events,
one SQLite commit per episode. Native mode answers ``{"answer": x}``; tool
mode calls ``submit`` directly (tool binding, routing and validation, no
sandbox execution, whose latency is benchmarks/sandbox_latency.py's subject).

Also measured: the agent alone (``arun_episode`` in a loop with a no-op
``emit``), which separates the LangGraph agent's cost from the runner's
(trace file, store, scheduling).

The bare loop, measured in the same run, builds the same scripted model per
episode, calls ``ainvoke`` with the same prompt messages and ``json.loads``
the answer: what a hand-written script would do with no trace and no store.

Run:  .venv/bin/python benchmarks/harness_overhead.py [--episodes 2000] [--concurrency 8]
Target: harness time per episode <= 3x the bare loop's in native mode.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import textwrap
import time
from pathlib import Path

from langchain_core.messages import HumanMessage, SystemMessage

from stochbox.agents.prompts import native_system, user_prompt
from stochbox.agents.scripted import load_script, scripted_model
from stochbox.config import RunConfig
from stochbox.runner import start_run
from stochbox.sandbox import open_sandbox
from stochbox.scenarios import resolve_packs, select_scenarios

SCRIPT = """
native:
  - text: '{"answer": 0.25}'
tool:
  - tool_calls:
      - name: submit
        args: {answer: 0.25}
"""

SCENARIO = """
id: unit
title: Uniform on [0, 1)
prompt: Draw one number uniformly at random from [0, 1).
kind: canonical
support: continuous
answer_format: {type: number}
ground_truth:
  batch: true
  code: |
    import json, numpy as np
    print(json.dumps(np.random.uniform(size=N).tolist()))
tags: [kind:canonical]
"""


def write_inputs(root: Path) -> tuple[Path, Path]:
    pack = root / "pack"
    pack.mkdir()
    (pack / "pack.yaml").write_text("name: bench\nversion: '0.1'\ndescription: benchmark pack\n")
    (pack / "unit.yaml").write_text(textwrap.dedent(SCENARIO).lstrip())
    script = root / "instant.yaml"
    script.write_text(SCRIPT)
    return pack, script


async def bare_loop(script_path: Path, pack: Path, episodes: int) -> float:
    script = load_script(script_path)
    scenario = select_scenarios(resolve_packs([str(pack)]), None)[0]
    messages = [SystemMessage(native_system(scenario, 1, structured=False)), HumanMessage(user_prompt(scenario, 1))]
    t0 = time.perf_counter()
    for _ in range(episodes):
        model = scripted_model(script, scenario.id, "native", source=str(script_path))
        reply = await model.ainvoke(messages)
        json.loads(reply.text)["answer"]
    return time.perf_counter() - t0


async def agent_loop(script_path: Path, pack: Path, episodes: int) -> float:
    """The agent alone (LangGraph graph, ledger, retry/limiter, parsing): no runner, trace file or store."""
    from stochbox.agents.base import EpisodeContext
    from stochbox.agents.llm import make_llm_agent

    from stochbox.results import Mode

    agent = make_llm_agent(f"scripted:{script_path}")
    scenario = select_scenarios(resolve_packs([str(pack)]), None)[0]
    t0 = time.perf_counter()
    for i in range(episodes):
        ctx = EpisodeContext(run_id="bench", episode_id=f"e{i}", scenario=scenario, mode=Mode.native, n_samples=1, seed=i, emit=lambda *a, **k: None)
        outcome = await agent.arun_episode(ctx)
        assert outcome.samples == [0.25], outcome
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
    with tempfile.TemporaryDirectory() as tmp, open_sandbox(args.sandbox, pool_size=1) as sandbox:
        root = Path(tmp)
        pack, script = write_inputs(root)
        harness(script, pack, root, "native", 50, args.concurrency, sandbox)  # warm-up: reference cached, imports done
        asyncio.run(bare_loop(script, pack, 200))
        bare = asyncio.run(bare_loop(script, pack, args.episodes))
        asyncio.run(agent_loop(script, pack, 200))
        agent = asyncio.run(agent_loop(script, pack, args.episodes))
        native = harness(script, pack, root, "native", args.episodes, args.concurrency, sandbox)
        tool = harness(script, pack, root, "tool", args.episodes, args.concurrency, sandbox)
    n = args.episodes
    print(f"episodes: {n}, concurrency {args.concurrency}")
    print(f"bare loop      {n / bare:8.0f} ep/s  {1e3 * bare / n:6.2f} ms/episode")
    print(f"agent alone    {n / agent:8.0f} ep/s  {1e3 * agent / n:6.2f} ms/episode  ratio {agent / bare:.2f}x (graph, ledger, parsing; no trace/store)")
    print(f"harness native {n / native:8.0f} ep/s  {1e3 * native / n:6.2f} ms/episode  ratio {native / bare:.2f}x (target <= 3x)")
    print(f"harness tool   {n / tool:8.0f} ep/s  {1e3 * tool / n:6.2f} ms/episode  ratio {tool / bare:.2f}x")


if __name__ == "__main__":
    main()
