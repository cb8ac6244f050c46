"""Sandbox latency: warm fork-server executions vs a cold interpreter and vs ``docker run``.

For each backend that can start here (local jail, docker, unsafe-subprocess)
it measures, in one run: pool start-up time, then the per-execution latency
(host call to ExecResult) of ``print(1)`` and of a numpy snippet, back to
back and paced 20 ms apart (an agent calls its tool between model turns; the
server uses idle time to pre-fork the next child). Baselines measured in the same run: a cold
``python -c 'import numpy, scipy.stats'`` (the venv's interpreter, called by
its real path, and Debian's /usr/bin/python3) and, when an engine answers,
one ``docker run --rm`` of the sandbox image per call.

Run:  .venv/bin/python benchmarks/sandbox_latency.py [--n 100] [--cold 10] [--pool 2]
Prints medians (and p90) in ms and the ratios the targets are stated in:
warm median <= 10 ms, >= 30x faster than docker run, >= 50x faster than a cold python -c.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

from stochbox.errors import SandboxUnavailableError
from stochbox.sandbox import SandboxSpec, open_sandbox

SNIPPETS = {
    "print(1)": "print(1)",
    "numpy": "import numpy as np\nx = np.random.default_rng().normal(size=1000)\nprint(round(float(x.mean()), 6))",
}
COLD_IMPORT = "import numpy, scipy.stats"


def timed(fn: Callable[[], object], n: int, pause_s: float = 0.0) -> list[float]:
    out = []
    for _ in range(n):
        time.sleep(pause_s)  # not timed
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def summary(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.9 * (len(ordered) - 1))]


def measure_backend(backend: str, n: int, pool: int) -> dict[str, object] | None:
    t0 = time.perf_counter()
    try:
        sb = open_sandbox(SandboxSpec(backend=backend, pool_size=pool))
    except SandboxUnavailableError as exc:
        print(f"  {backend}: unavailable ({exc})")
        return None
    try:
        if hasattr(sb, "pool"):
            sb.pool.start()  # lazy backends (unsafe) start here
        startup = time.perf_counter() - t0
        row: dict[str, object] = {"backend": sb.name, "startup_s": startup, "pool": pool}
        for name, code in SNIPPETS.items():
            for _ in range(3):  # warm-up
                res = sb.execute(code, seed=1)
                assert res.ok, (backend, res)
            inside: list[float] = []  # ExecResult.duration_s: go to the child .. its exit, as the server saw it

            def call() -> None:
                inside.append(sb.execute(code, seed=1).duration_s)

            row[name] = summary(timed(call, n))
            row[name + " inside"] = summary(inside)
            row[name + " paced"] = summary(timed(call, n, pause_s=0.02))
        return row
    finally:
        sb.close()


def measure_cold(python: str, n: int) -> tuple[float, float]:
    return summary(timed(lambda: subprocess.run([python, "-c", COLD_IMPORT], check=True), n))


def measure_docker_run(n: int) -> tuple[float, float] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    image = SandboxSpec().image
    probe = subprocess.run([docker, "image", "inspect", image], capture_output=True)
    if probe.returncode != 0:
        print(f"  docker run: image {image} missing (stochbox sandbox build-image)")
        return None
    cmd = [docker, "run", "--rm", "--network", "none", image, "python3", "-c", "print(1)"]
    subprocess.run(cmd, check=True, capture_output=True)  # warm the image cache
    return summary(timed(lambda: subprocess.run(cmd, check=True, capture_output=True), n))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="warm executions per snippet and backend")
    ap.add_argument("--cold", type=int, default=10, help="cold interpreter / docker run repetitions")
    ap.add_argument("--pool", type=int, default=2, help="pool size (start-up is measured for the whole pool)")
    ap.add_argument("--backends", default="local,docker,unsafe-subprocess")
    args = ap.parse_args()

    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f}; n={args.n}, pool={args.pool}")
    venv_python = os.path.realpath(sys.executable)
    baselines = {f"cold python -c '{COLD_IMPORT}' ({venv_python})": measure_cold(venv_python, args.cold)}
    if os.access("/usr/bin/python3", os.X_OK):
        baselines[f"cold python -c '{COLD_IMPORT}' (/usr/bin/python3)"] = measure_cold("/usr/bin/python3", args.cold)
    docker_run = measure_docker_run(args.cold) if "docker" in args.backends else None
    if docker_run:
        baselines["docker run --rm IMAGE python3 -c 'print(1)'"] = docker_run
    cold_venv = next(iter(baselines.values()))[0]

    rows = [r for b in args.backends.split(",") if (r := measure_backend(b.strip(), args.n, args.pool))]

    print("\nbaselines (per call):")
    for name, (med, p90) in baselines.items():
        print(f"  {name:70s} median {med * 1000:8.1f} ms   p90 {p90 * 1000:8.1f} ms")
    print("\nwarm executions (host call -> ExecResult):")
    for row in rows:
        print(f"  {row['backend']} (pool of {row['pool']} started in {row['startup_s']:.2f} s)")
        for name in SNIPPETS:
            med, p90 = row[name]  # type: ignore[misc]
            ratios = f"{cold_venv / med:6.0f}x vs cold python"
            if docker_run:
                ratios += f", {docker_run[0] / med:6.0f}x vs docker run"
            print(f"    {name:10s} back to back: median {med * 1000:7.2f} ms   p90 {p90 * 1000:7.2f} ms   {ratios}")
            med, p90 = row[name + " inside"]  # type: ignore[misc]
            print(f"    {name:10s}   of which in the sandbox (child start to exit): median {med * 1000:7.2f} ms")
            med, p90 = row[name + " paced"]  # type: ignore[misc]
            print(f"    {name:10s} 20 ms apart:  median {med * 1000:7.2f} ms   p90 {p90 * 1000:7.2f} ms")
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
