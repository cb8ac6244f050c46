"""The static trace viewer: escaping of untrusted output, and a 100,000-event trace in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from pathlib import Path

from stochbox.run.trace import TRACE_FILE
from stochbox.traces.viewer import CHUNK_SIZE, PAGE_SIZE, write_viewer

from machine_features import require_or_skip

from stochbox.testing.bigtrace import EVENTS_PER_EPISODE, write_big_run

PAYLOAD = '</script><b id="pwned">x</b><script>document.title="pwned"</script>'


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    require_or_skip("STOCHBOX_REQUIRE_CHROMIUM", found is not None, "chromium is not installed (apt-get install -y chromium)")
    return found  # type: ignore[return-value]


def render(html_file: Path, fragment: str = "") -> str:
    """The DOM of ``html_file`` after its scripts ran, from headless Chromium."""
    with tempfile.TemporaryDirectory() as profile:
        argv = [
            _chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
            "--virtual-time-budget=10000", "--dump-dom", html_file.resolve().as_uri() + fragment,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def _text(dom: str, element_id: str) -> str:
    m = re.search(rf'id="{element_id}"[^>]*>(.*?)<', dom, re.S)
    assert m, f"#{element_id} not rendered"
    return m.group(1)


def _rows(dom: str) -> int:
    body = dom.split('id="episode-rows"', 1)[1].split("</tbody>", 1)[0]
    return body.count("<tr ")


def test_untrusted_output_is_shown_as_text_never_as_markup(scripted_run, tmp_path):
    run_dir, models = scripted_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    lines = (copy / TRACE_FILE).read_text().splitlines(keepends=True)
    i = next(k for k, line in enumerate(lines) if '"sandbox_exec"' in line)
    event = json.loads(lines[i])
    event["stdout"] = PAYLOAD
    lines[i] = json.dumps(event) + "\n"
    (copy / TRACE_FILE).write_text("".join(lines))
    stats = write_viewer(copy, tmp_path / "view.html")
    html = stats.path.read_text()
    assert PAYLOAD not in html and "</script><b" not in html  # the data blocks cannot be closed from inside

    dom = render(stats.path, "#ep=" + urllib.parse.quote(event["episode_id"], safe=""))
    assert '<b id="pwned">' not in dom and "<title>pwned" not in dom
    assert "&lt;/script&gt;&lt;b id=\"pwned\"&gt;" in dom  # shown, escaped, in the timeline
    assert _text(dom, "episode-title") == event["episode_id"]
    assert _text(dom, "n-episodes") == "25" and _rows(dom) == 25


def test_viewer_renders_a_100k_event_trace_in_headless_chromium(tmp_path):
    run_dir = write_big_run(tmp_path / "big", n_events=100_002)
    t0 = time.perf_counter()
    stats = write_viewer(run_dir, tmp_path / "view.html")
    build_s = time.perf_counter() - t0
    n_episodes = 100_000 // EVENTS_PER_EPISODE
    assert (stats.events, stats.episodes) == (100_002, n_episodes)
    assert stats.chunks == -(-100_000 // CHUNK_SIZE)

    last = f"openai:gpt-4o-mini/tool/walk/{n_episodes - 1}"
    dom = render(stats.path, "#ep=" + urllib.parse.quote(last, safe=""))
    assert _text(dom, "n-events") == "100002"
    assert _text(dom, "n-episodes") == str(n_episodes)
    assert _text(dom, "n-filtered") == str(n_episodes)
    assert _text(dom, "shown-to") == str(PAGE_SIZE) and _rows(dom) == PAGE_SIZE  # one page, not 5,000 rows
    # the episode opened from the URL is drawn from the last event chunk, all its events on the timeline
    assert _text(dom, "episode-title") == last
    timeline = dom.split('id="timeline"', 1)[1].split("</ol>", 1)[0]
    assert timeline.count('<li class="ev ') == EVENTS_PER_EPISODE
    assert "x = np.random.exponential(1.0, size=4)" in timeline
    render_ms = float(re.search(r'data-render-ms="([\d.]+)"', dom).group(1))
    print(f"\n100,002 events: {stats.bytes / 1e6:.1f} MB, built in {build_s:.1f} s, first render at {render_ms:.0f} ms")
