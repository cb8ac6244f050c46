"""Sandbox exec latency through Inspect's sandbox API: the ``stochbox`` sandbox vs Inspect's ``local``.

Both environments are made the way Inspect makes them for a task
(``task_init``, then ``sample_init`` per sample) and called through
``SandboxEnvironment.exec`` -- the call every Inspect tool makes. Calls are
interleaved (one of each in turn, ``--n`` rounds) so both see the same load.
Measured per backend that can start here: stochbox ``local`` (the bubblewrap
jail), stochbox ``docker`` (when an engine answers) and Inspect's ``local``
(a fresh, unconfined subprocess per call). Inspect's ``local`` runs the same
interpreter as the jail (Debian's /usr/bin/python3), called by path.

Run:  .venv/bin/python benchmarks/inspect_sandbox.py [--n 60]
Prints median and p90 in ms per snippet and the ratio Inspect local / stochbox.
(Inspect's own Docker sandbox needs Docker Engine >= 24.0.6 and the compose v2
plugin; it cannot start on this machine, so it is not measured.)
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from inspect_ai.util._sandbox.local import LocalSandboxEnvironment  # Inspect's local sandbox (no public alias)

from stochbox.errors import SandboxUnavailableError
from stochbox.inspect import StochboxSandboxConfig, StochboxSandboxEnvironment

PYTHON = "/usr/bin/python3"
SNIPPETS = {
    "print(1)": "print(1)",
    "numpy": "import numpy as np\nx = np.random.default_rng().normal(size=1000)\nprint(round(float(x.mean()), 6))",
}


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered) * 1000, ordered[int(0.9 * (len(ordered) - 1))] * 1000


async def open_envs() -> tuple[dict[str, object], list]:
    envs: dict[str, object] = {}
    cleanups = []
    for backend in ("local", "docker"):
        config = StochboxSandboxConfig(backend=backend, pool_size=1)
        t0 = time.perf_counter()
        try:
            await StochboxSandboxEnvironment.task_init("bench", config)
        except SandboxUnavailableError as exc:
            print(f"stochbox {backend}: unavailable ({exc})")
            continue
        envs[f"stochbox {backend}"] = (await StochboxSandboxEnvironment.sample_init("bench", config, {}))["default"]
        cleanups.append((StochboxSandboxEnvironment, config))
        print(f"stochbox {backend}: task_init {time.perf_counter() - t0:.2f} s (warm servers started once per task)")
    await LocalSandboxEnvironment.task_init("bench", None)
    envs["inspect local"] = (await LocalSandboxEnvironment.sample_init("bench", None, {}))["default"]
    cleanups.append((LocalSandboxEnvironment, None))
    return envs, cleanups


async def main(n: int) -> None:
    envs, cleanups = await open_envs()
    try:
        for name, code in SNIPPETS.items():
            times: dict[str, list[float]] = {k: [] for k in envs}
            for label, env in envs.items():  # warm-up, not timed
                res = await env.exec([PYTHON, "-c", code])
                assert res.success, (label, res.stderr)
            for _ in range(n):
                for label, env in envs.items():
                    t0 = time.perf_counter()
                    res = await env.exec([PYTHON, "-c", code])
                    times[label].append(time.perf_counter() - t0)
                    assert res.success, (label, res.stderr)
            print(f"\n{name}  ({n} calls each, interleaved)")
            base = summary(times["inspect local"])[0]
            for label, samples in times.items():
                med, p90 = summary(samples)
                ratio = "" if label == "inspect local" else f"   inspect local / this = {base / med:.1f}x"
                print(f"  {label:16s} median {med:7.1f} ms   p90 {p90:7.1f} ms{ratio}")
    finally:
        for cls, config in cleanups:
            if cls is LocalSandboxEnvironment:
                continue
            await cls.task_cleanup("bench", config, True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=60)
    asyncio.run(main(parser.parse_args().n))
