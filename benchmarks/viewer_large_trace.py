"""Trace viewer on a large trace: stochbox's paged viewer vs a page that inlines every event as DOM.

Builds a synthetic run of ``--events`` events (the same generator as the
viewer test), writes ``stochbox view`` output and, as the baseline, a plain
HTML page with one element per event (what a viewer that renders the whole
log does), then loads both in headless Chromium and reads the time of the
first complete render (``performance.now()`` after the page's last script,
from navigation start). Needs ``chromium`` on PATH.

Run:  .venv/bin/python benchmarks/viewer_large_trace.py [--events 100002] [--repeat 3]
Prints file sizes, build time, both render times and their ratio.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stochbox.traces.run_trace import load_run_trace
from stochbox.traces.viewer import write_viewer
from stochbox.testing.bigtrace import write_big_run

MARK = "<script>document.body.dataset.renderMs = performance.now().toFixed(1);</script>"


def naive_page(run_dir: Path, out: Path) -> None:
    run = load_run_trace(run_dir)
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("<!doctype html><meta charset=utf-8><body><ol>")
        for ep in run.episodes.values():
            for ev in ep.events:
                fh.write(f"<li><b>{html.escape(ep.episode_id)} step {ev.step} {ev.event}</b>"
                         f"<pre>{html.escape(json.dumps(ev.payload, default=str)[:2000])}</pre></li>")
        fh.write("</ol>" + MARK + "</body>")


def render_ms(chromium: str, page: Path) -> float:
    with tempfile.TemporaryDirectory() as profile:
        argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
                "--virtual-time-budget=10000", "--dump-dom", page.resolve().as_uri()]
        dom = subprocess.run(argv, capture_output=True, text=True, timeout=600).stdout
    m = re.search(r'data-render-ms="([\d.]+)"', dom)
    if not m:
        raise SystemExit(f"{page}: no render time in the DOM")
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=100_002)
    ap.add_argument("--repeat", type=int, default=3, help="Chromium loads per page (the best is kept)")
    args = ap.parse_args()
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("chromium not found (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        run_dir = write_big_run(root / "run", n_events=args.events)
        t0 = time.perf_counter()
        stats = write_viewer(run_dir, root / "view.html")
        build_s = time.perf_counter() - t0
        naive_page(run_dir, root / "naive.html")
        ours = min(render_ms(chromium, stats.path) for _ in range(args.repeat))
        naive = min(render_ms(chromium, root / "naive.html") for _ in range(args.repeat))
        print(f"events: {stats.events}  episodes: {stats.episodes}")
        print(f"stochbox view: {stats.bytes / 1e6:.1f} MB, built in {build_s:.1f} s, first render {ours:.0f} ms")
        print(f"all-events DOM baseline: {(root / 'naive.html').stat().st_size / 1e6:.1f} MB, first render {naive:.0f} ms")
        print(f"ratio (baseline / stochbox): {naive / ours:.1f}x")


if __name__ == "__main__":
    main()
