"""Concurrency efficiency: episodes against a local OpenAI-compatible server that answers after 200 ms.

The stub server (``stochbox/testing/openai_stub.py``, standard library asyncio)
runs in its own process; ``stochbox run`` talks to it as ``--model openai:stub
--base-url ...``, native mode, one model call per episode, twice: with the
default client (``--openai-client stochbox``, :mod:`stochbox.agents.openai_http`
over aiohttp) and with ``--openai-client langchain`` (langchain-openai, the
openai SDK over httpx). The wall time of the episodes (from the run's start
hook to its end: no reference generation, no start-up) is compared with the
ideal ``episodes x delay / concurrency``. Measured in the same process, as
baselines at the same concurrency with the same request (messages,
``response_format``, ``seed``): the bare ``openai`` SDK client (what any Python
harness on that client pays) and a bare aiohttp loop (the floor of an asyncio
HTTP client in one Python process). Each line also gives the process CPU
time per episode or request, the budget that decides efficiency once the
server is fast: at 128 in flight and 200 ms, 85% leaves about 1.8 ms.
``--executor processes`` runs the stochbox episodes in worker processes (one
per CPU); their CPU is then not in this process's figure.

Run:  .venv/bin/python benchmarks/concurrency.py [--episodes 2000] [--concurrency 128] [--delay 0.2]
      [--only stochbox,langchain,openai,aiohttp] [--executor local|processes]
Target: efficiency = ideal / wall >= 85% at 2,000 episodes, concurrency 128 (default client).
The machine may be shared: the load average is printed with the results.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

from stochbox.run.config import RunConfig
from stochbox.run.runner import start_run
from stochbox.sandbox import open_sandbox
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace
from stochbox.testing.scenario_texts import UNIT  # the scenario the tests use too


def start_stub(delay: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-m", "stochbox.testing.openai_stub", "--delay", str(delay)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


MESSAGES = [{"role": "system", "content": "Answer with one JSON object."}, {"role": "user", "content": "Draw one number uniformly at random from [0, 1)."}]
SCHEMA = {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object", "properties": {"answer": {"type": "number"}}}}}


class Timing(NamedTuple):
    wall_s: float  # the episodes: first episode_start to last episode_end (stochbox runs) or the request loop
    cpu_s: float  # process CPU time (all threads, and worker processes) over the measured part
    total_s: float | None = None  # stochbox runs: from the start hook to the end (worker start-up and shutdown too)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _episodes_wall(run_dir: Path) -> float:
    """First ``episode_start`` to last ``episode_end`` in the trace: the episodes, whichever executor ran them."""
    starts, ends = [], []
    for event in read_trace(run_dir):
        if event.event == "episode_start":
            starts.append(datetime.fromisoformat(event.ts))
        elif event.event == "episode_end":
            ends.append(datetime.fromisoformat(event.ts))
    return (max(ends) - min(starts)).total_seconds()


def run_once(
    root: Path, port: int, episodes: int, concurrency: int, sandbox, tag: str, client: str, executor: str = "local"
) -> tuple[Timing, dict[str, int]]:
    pack = root / "pack"
    if not pack.exists():
        pack.mkdir()
        (pack / "pack.yaml").write_text("name: bench\nversion: '0.1'\ndescription: benchmark pack\n")
        (pack / "unit.yaml").write_text(UNIT)
    cfg = RunConfig.model_validate(
        dict(models=["openai:stub"], base_url=f"http://127.0.0.1:{port}/v1", packs=[str(pack)], n=episodes,
             reference_n=1000, concurrency=concurrency, cache_dir=str(root / "cache"), openai_client=client,
             executor=executor)
    )
    started: list[tuple[float, float, float]] = []
    out = start_run(cfg, root / f"run-{tag}", sandbox=sandbox,
                    on_start=lambda info: started.append((time.perf_counter(), time.process_time(), _children_cpu())))
    wall = time.perf_counter() - started[0][0]
    # CPU of this process and of the worker processes (joined by the end of the run, so counted as children)
    cpu = time.process_time() - started[0][1] + _children_cpu() - started[0][2]
    timing = Timing(_episodes_wall(root / f"run-{tag}"), cpu, wall)
    with RunStore(root / f"run-{tag}") as store:
        reasons = Counter(r.reason for r in store.records() if r.status.value == "failed")
    for reason, count in reasons.most_common(3):
        print(f"  {count} failed: {reason}")
    return timing, out.statuses


async def _measure(one, episodes: int, concurrency: int) -> Timing:
    gate = asyncio.Semaphore(concurrency)

    async def gated(i: int) -> float:
        async with gate:
            return await one(i)

    await asyncio.gather(*(gated(i) for i in range(concurrency)))  # warm connections
    t0, c0 = time.perf_counter(), time.process_time()
    await asyncio.gather(*(gated(i) for i in range(episodes)))
    return Timing(time.perf_counter() - t0, time.process_time() - c0)


async def bare_openai(port: int, episodes: int, concurrency: int) -> Timing:
    """The same requests through the bare ``openai`` SDK client (no LangChain, graph, trace or store)."""
    import openai

    limits = type(openai.DEFAULT_CONNECTION_LIMITS)(max_connections=4096, max_keepalive_connections=4096, keepalive_expiry=30.0)
    client = openai.AsyncOpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="not-needed", max_retries=0,
                                http_client=openai.DefaultAsyncHttpxClient(limits=limits))

    async def one(i: int) -> float:
        reply = await client.chat.completions.create(model="stub", messages=MESSAGES, seed=i, response_format=SCHEMA)
        return json.loads(reply.choices[0].message.content)["answer"]

    try:
        return await _measure(one, episodes, concurrency)
    finally:
        await client.close()


async def bare_aiohttp(port: int, episodes: int, concurrency: int) -> Timing:
    """The same requests as bare aiohttp POSTs: the floor of an asyncio HTTP client in one process."""
    import aiohttp

    url = f"http://127.0.0.1:{port}/v1/chat/completions"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(i: int) -> float:
            body = {"model": "stub", "messages": MESSAGES, "seed": i, "response_format": SCHEMA}
            async with session.post(url, json=body) as resp:
                reply = await resp.json()
            return json.loads(reply["choices"][0]["message"]["content"])["answer"]

        return await _measure(one, episodes, concurrency)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=128)
    parser.add_argument("--delay", type=float, default=0.2)
    parser.add_argument("--sandbox", default="auto", help="only generates the reference (once, then cached)")
    parser.add_argument("--only", default="stochbox,langchain,openai,aiohttp", help="comma-separated subset to measure")
    parser.add_argument("--executor", default="local", help="for the stochbox runs: local (one process) | processes (one worker per CPU)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    results: dict[str, tuple[Timing, str]] = {}
    stub, port = start_stub(args.delay)
    try:
        with tempfile.TemporaryDirectory() as tmp, open_sandbox(args.sandbox, pool_size=1) as sandbox:
            root = Path(tmp)
            for client in ("stochbox", "langchain"):
                if client not in only:
                    continue
                # warm-up: reference cached, imports done
                run_once(root, port, 2 * args.concurrency, args.concurrency, sandbox, f"warm-up-{client}", client, args.executor)
                timing, statuses = run_once(root, port, args.episodes, args.concurrency, sandbox, f"measured-{client}", client, args.executor)
                results[f"stochbox run, --openai-client {client}"] = (timing, f"statuses {statuses}, executor {args.executor}")
        if "openai" in only:
            results["bare openai SDK"] = (asyncio.run(bare_openai(port, args.episodes, args.concurrency)), "same requests, no LangChain/graph/trace/store")
        if "aiohttp" in only:
            results["bare aiohttp"] = (asyncio.run(bare_aiohttp(port, args.episodes, args.concurrency)), "same requests, the client floor")
    finally:
        stub.terminate()
        stub.wait()
    ideal = args.episodes * args.delay / args.concurrency
    print(f"{args.episodes} episodes, concurrency {args.concurrency}, server delay {args.delay * 1e3:.0f} ms, {os.cpu_count()} CPUs, ideal wall {ideal:.2f} s")
    for name, (t, note) in results.items():
        total = f", {t.total_s:.2f} s with start-up" if t.total_s is not None else ""
        print(f"{name:<40} wall {t.wall_s:6.2f} s{total}  efficiency {ideal / t.wall_s:6.1%}  CPU {t.cpu_s / args.episodes * 1e3:5.2f} ms/episode  ({note})")
    print("target: efficiency >= 85% for the default client (--openai-client stochbox)")
    print(f"load average: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
