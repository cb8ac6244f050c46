"""Memory over a long run: resident set size across 20,000 episodes of an instant scripted model.

One ``start_run`` in this process (native mode, the harness_overhead script
and pack); RSS is sampled from ``/proc/self/statm`` every 500 stored
episodes through the progress hook. Growth is measured from the sample after
the first 1,000 episodes (imports, graph compilation and caches are warm by
then) to the largest later sample; growth from before the run is printed too.

Run:  .venv/bin/python benchmarks/memory.py [--episodes 20000] [--concurrency 8]
Target: growth <= 200 MB over 20,000 episodes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from stochbox.run.config import RunConfig
from stochbox.run.runner import start_run
from stochbox.sandbox import open_sandbox

from harness_overhead import write_inputs  # this script's folder is on sys.path

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--sandbox", default="auto", help="only generates the reference")
    args = parser.parse_args()
    samples: list[tuple[int, float]] = []

    def hook(record, done: int, total: int) -> None:
        if done % args.every == 0:
            samples.append((done, rss_mb()))

    with tempfile.TemporaryDirectory() as tmp, open_sandbox(args.sandbox, pool_size=1) as sandbox:
        root = Path(tmp)
        pack, script = write_inputs(root)
        before = rss_mb()
        cfg = RunConfig.model_validate(
            dict(models=[f"scripted:{script}"], packs=[str(pack)], n=args.episodes, reference_n=1000, concurrency=args.concurrency, cache_dir=str(root / "cache"))
        )
        out = start_run(cfg, root / "run", sandbox=sandbox, progress=hook)
        assert out.statuses == {"ok": args.episodes}, out.statuses
        trace_mb = (root / "run" / "trace.jsonl").stat().st_size / 2**20
    warm = next(mb for done, mb in samples if done >= min(1000, args.episodes))
    peak = max(mb for _, mb in samples)
    print(f"{args.episodes} episodes, concurrency {args.concurrency}; trace.jsonl {trace_mb:.0f} MB")
    print("RSS (MB) by episodes stored: " + ", ".join(f"{done}: {mb:.0f}" for done, mb in samples[:: max(1, len(samples) // 10)]))
    print(f"RSS before the run {before:.0f} MB, after 1,000 episodes {warm:.0f} MB, peak {peak:.0f} MB, end {samples[-1][1]:.0f} MB")
    print(f"growth after warm-up {peak - warm:.0f} MB (target <= 200 MB); from before the run {peak - before:.0f} MB")


if __name__ == "__main__":
    main()
