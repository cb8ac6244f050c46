"""Report time of a ~450-scenario run vs a bare loop that loads the same samples and calls ks_2samp.

The run: every scenario of the three built-in packs (227) copied into one
pack, then copied again under new ids until there are ``--scenarios`` of
them (tags ``group:<pack>`` added, so ``--by-tag group`` has rows), answered
by the oracle baseline, N = ``--n`` (independent protocol: N one-sample
episodes per scenario, as the paper), ``--reference-n`` reference samples.
It is built once with the real ``stochbox run`` (``--reuse DIR`` skips that).

Measured in one process, in this order, each the best of ``--repeat``:

* **bare loop**: read every episode row of ``run.sqlite`` (sqlite3 +
  ``json.loads``), lay the samples out per scenario, read every reference
  file of the truth cache (``json.loads``), encode answers as numbers the
  paper's way, one ``scipy.stats.ks_2samp`` per scenario. What a
  hand-written script would do, with no CI, curve, effect size or
  support-aware test.
* **report, cold**: ``build_report`` (everything ``stochbox report --json``
  computes: the support-aware test per scenario at N and at every curve
  prefix, effect sizes, Wilson intervals) with no verdict cache yet; it
  writes ``verdicts.sqlite``.
* **report, warm**: the same, reading the verdict cache.

for the default preset and for ``--preset unpredictabench``, each with
``--by-tag group``. Ratios are against the bare loop. The command-line wall
time (``stochbox report --json``, a fresh process: imports included) is
printed too.

Run:  .venv/bin/python benchmarks/report_time.py [--scenarios 450] [--n 100] [--reuse DIR]
Target: report time <= 3x the bare loop.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from scipy import stats

from stochbox.evaluators.unpredictabench import codes
from stochbox.analysis.verdict_cache import CACHE_FILE
from stochbox.reference.cache import ReferenceCache
from stochbox.analysis.report import build_report
from stochbox.run.runinfo import read_run_info
from stochbox.testing.timing import best_of

PACKS = Path(__file__).resolve().parents[1] / "scenarios" / "packs"


def build_pack(root: Path, count: int) -> Path:
    """One pack folder with ``count`` scenarios: the built-in ones, then renamed copies."""
    root.mkdir(parents=True)
    (root / "pack.yaml").write_text("name: report-bench\nversion: '0.1'\ndescription: built-in scenarios, copied\n")
    files = [(p.parent.name, p) for name in ("canonical", "programs", "narratives") for p in sorted((PACKS / name).glob("*.yaml")) if p.name != "pack.yaml"]
    made, copy = 0, 0
    while made < count:
        copy += 1
        for pack, path in files:
            if made == count:
                break
            text = path.read_text()
            sid = re.search(r"^id: *(\S+)", text, re.M).group(1)
            new_id = sid if copy == 1 else f"{sid}-copy{copy}"
            text = re.sub(r"^id: *\S+", f"id: {new_id}", text, count=1, flags=re.M)
            tag = f"group:{pack}"
            text = re.sub(r"^tags: *\[", f"tags: [{tag}, ", text, count=1, flags=re.M) if re.search(r"^tags: *\[", text, re.M) else text + f"\ntags: [{tag}]\n"
            (root / f"{new_id}.yaml").write_text(text)
            made += 1
    return root


def build_run(work: Path, args) -> Path:
    pack = build_pack(work / "pack", args.scenarios)
    out = work / "run"
    cmd = [sys.executable, "-m", "stochbox", "run", "--model", "baseline:oracle", "--pack", str(pack), "--n", str(args.n),
           "--reference-n", str(args.reference_n), "--concurrency", "32", "--jobs", "2", "--cache-dir", str(work / "truth"),
           "--out", str(out), "-q"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"building the run failed:\n{proc.stderr[-3000:]}")
    print(f"built {out} in {time.perf_counter() - t0:.0f} s")
    return out


def bare_loop(run_dir: Path) -> int:
    """Load the same samples as the report and run one ks_2samp per scenario; returns the passes at 0.05."""
    info = read_run_info(run_dir)
    n = info.config.n
    slots: dict[str, list] = defaultdict(lambda: [None] * n)
    db = sqlite3.connect(run_dir / "run.sqlite")
    for scenario, idx, raw in db.execute("SELECT scenario, idx, record FROM episodes"):
        samples = json.loads(raw)["samples"]
        if samples and idx < n:
            slots[scenario][idx] = samples[0]
    db.close()
    cache = ReferenceCache(info.config.cache_dir)
    passed = 0
    for sc, ref in zip(info.scenarios, info.references):
        reference = json.loads(cache.path_for(ref.key).read_bytes())["samples"]
        agent = [x for x in slots[sc.id] if x is not None]
        a = codes(agent, sc.answer_format, version="v1")
        r = codes(reference, sc.answer_format, version="v1")
        passed += stats.ks_2samp(a, r).pvalue >= 0.05
    return int(passed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenarios", type=int, default=450)
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--reference-n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3, help="best-of repeats of the bare loop and the warm report")
    ap.add_argument("--reuse", type=Path, help="a folder made by an earlier call (holds run/ and truth/)")
    ap.add_argument("--keep", action="store_true", help="keep the work folder (printed) for --reuse")
    args = ap.parse_args()
    work = args.reuse or Path(tempfile.mkdtemp(prefix="report-bench-"))
    run_dir = work / "run" if (work / "run" / "run.json").is_file() else build_run(work, args)
    info = read_run_info(run_dir)
    with sqlite3.connect(run_dir / "run.sqlite") as db:
        episodes = db.execute("SELECT COUNT(*) FROM episodes").fetchone()[0]
    print(f"run: {len(info.scenarios)} scenarios, N={info.config.n}, {episodes} episodes, reference {info.config.reference_n}; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")

    t_bare = best_of(args.repeat, lambda: bare_loop(run_dir))[0]
    print(f"bare loop (load samples + ks_2samp per scenario): {t_bare:.2f} s")
    (run_dir / CACHE_FILE).unlink(missing_ok=True)
    for preset in ("stochbox", "unpredictabench"):  # verdict keys include the preset: the second is cold too
        t0 = time.perf_counter()
        cold_report = build_report(run_dir, preset=preset, by_tag=["group"])
        t_cold = time.perf_counter() - t0
        t_warm = best_of(args.repeat, lambda: build_report(run_dir, preset=preset, by_tag=["group"]))[0]
        assert build_report(run_dir, preset=preset, by_tag=["group"]).to_json() == cold_report.to_json()
        summary = cold_report.summary[0]
        print(f"report --preset {preset} --by-tag group: cold {t_cold:.2f} s ({t_cold / t_bare:.2f}x), "
              f"warm {t_warm:.2f} s ({t_warm / t_bare:.2f}x); KS@{summary.n} = {summary.ks_at_n:.3f} ({summary.passed}/{summary.scenarios})")
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "stochbox", "report", str(run_dir), "--json", "--by-tag", "group"], capture_output=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    print(f"stochbox report --json --by-tag group (fresh process, warm cache): {time.perf_counter() - t0:.2f} s wall")
    if args.reuse is None and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"work folder: {work} (reuse with --reuse {work})")


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
