"""Concurrency efficiency: episodes against a local OpenAI-compatible server that answers after 200 ms.

The stub server (``tests/scale/openai_stub.py``, standard library asyncio)
runs in its own process; ``stochbox run`` talks to it through the real
``langchain-openai`` client (``--model openai:stub --base-url ...``), native
mode, one model call per episode. The wall time of the episodes (from the
run's start hook to its end: no reference generation, no start-up) is
compared with the ideal ``episodes x delay / concurrency``. Measured in the
same run: the same number of requests through the bare ``openai`` SDK client
(same messages shape, ``response_format`` and ``seed``) at the same
concurrency: what any Python harness on this client pays.

Run:  .venv/bin/python benchmarks/concurrency.py [--episodes 2000] [--concurrency 128] [--delay 0.2]
Target: efficiency = ideal / wall >= 85% at 2,000 episodes, concurrency 128.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from collections import Counter
from pathlib import Path

from stochbox.config import RunConfig
from stochbox.runner import start_run
from stochbox.sandbox import open_sandbox
from stochbox.store import RunStore

STUB = Path(__file__).resolve().parents[1] / "tests" / "scale" / "openai_stub.py"

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


def start_stub(delay: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, str(STUB), "--delay", str(delay)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def run_once(root: Path, port: int, episodes: int, concurrency: int, sandbox, tag: str) -> tuple[float, dict[str, int]]:
    pack = root / "pack"
    if not pack.exists():
        pack.mkdir()
        (pack / "pack.yaml").write_text("name: bench\nversion: '0.1'\ndescription: benchmark pack\n")
        (pack / "unit.yaml").write_text(textwrap.dedent(SCENARIO).lstrip())
    cfg = RunConfig.model_validate(
        dict(models=["openai:stub"], base_url=f"http://127.0.0.1:{port}/v1", packs=[str(pack)], n=episodes,
             reference_n=1000, concurrency=concurrency, cache_dir=str(root / "cache"))
    )
    started: list[float] = []
    out = start_run(cfg, root / f"run-{tag}", sandbox=sandbox, on_start=lambda info: started.append(time.perf_counter()))
    wall = time.perf_counter() - started[0]
    with RunStore(root / f"run-{tag}") as store:
        reasons = Counter(r.reason for r in store.records() if r.status.value == "failed")
    for reason, count in reasons.most_common(3):
        print(f"  {count} failed: {reason}")
    return wall, out.statuses


async def bare_client(port: int, episodes: int, concurrency: int) -> float:
    """The same requests through the bare ``openai`` SDK client (no LangChain, graph, trace or store)."""
    import openai

    limits = type(openai.DEFAULT_CONNECTION_LIMITS)(max_connections=4096, max_keepalive_connections=4096, keepalive_expiry=30.0)
    client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="not-needed", max_retries=0,
                                http_client=openai.DefaultAsyncHttpxClient(limits=limits))
    gate = asyncio.Semaphore(concurrency)
    messages = [{"role": "system", "content": "Answer with one JSON object."}, {"role": "user", "content": "Draw one number uniformly at random from [0, 1)."}]
    schema = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"answer": {"type": "number"}}}}}

    async def one(i: int) -> float:
        async with gate:
            reply = await client.chat.completions.create(model="stub", messages=messages, seed=i, response_format=schema)
            return json.loads(reply.choices[0].message.content)["answer"]

    await asyncio.gather(*(one(i) for i in range(concurrency)))  # warm connections
    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(episodes)))
    wall = time.perf_counter() - t0
    await client.close()
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--sandbox", default="auto", help="only generates the reference (once, then cached)")
    args = parser.parse_args()
    stub, port = start_stub(args.delay)
    try:
        with tempfile.TemporaryDirectory() as tmp, open_sandbox(args.sandbox, pool_size=1) as sandbox:
            root = Path(tmp)
            run_once(root, port, 2 * args.concurrency, args.concurrency, sandbox, "warm-up")  # reference cached, connections warm
            wall, statuses = run_once(root, port, args.episodes, args.concurrency, sandbox, "measured")
        bare = asyncio.run(bare_client(port, args.episodes, args.concurrency))
    finally:
        stub.terminate()
        stub.wait()
    ideal = args.episodes * args.delay / args.concurrency
    print(f"{args.episodes} episodes, concurrency {args.concurrency}, server delay {args.delay * 1e3:.0f} ms, {os.cpu_count()} CPUs")
    print(f"statuses: {statuses}")
    print(f"stochbox run:     wall {wall:.2f} s, ideal {ideal:.2f} s, efficiency {ideal / wall:.1%} (target >= 85%)")
    print(f"bare openai SDK:  wall {bare:.2f} s, ideal {ideal:.2f} s, efficiency {ideal / bare:.1%} (same requests, no LangChain/graph/trace/store)")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
