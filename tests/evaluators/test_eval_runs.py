"""compare, program fidelity and the HTML report on a real run folder (scripted model, sandboxed tool code)."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile

import pytest
from evalkit import SCRIPTED_SCENARIOS, stochbox_cli
from machine_features import require_or_skip
from scipy import stats

SANDBOX = ["--sandbox", "unsafe-subprocess"]


@pytest.fixture(scope="module")
def compare_json(scripted_run):
    proc = stochbox_cli("compare", str(scripted_run), "--json", "--fidelity", "--m", "400", *SANDBOX, env={"PYTHONHASHSEED": "1"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_compare_native_vs_tool(compare_json):
    out = json.loads(compare_json)
    assert out["preset"] == "stochbox" and out["alpha"] == 0.05
    (c,) = out["comparisons"]
    assert c["a"].endswith("/native") and c["b"].endswith("/tool") and c["scenarios"] == len(SCRIPTED_SCENARIOS)
    assert c["a_passed"] == 0  # constant answers fail every support at N=30
    pairs = {p["scenario"]: p for p in c["pairs"]}
    assert all(not p["a_passed"] for p in pairs.values())
    # McNemar exact = two-sided binomial test on the discordant pairs
    b, cc = c["a_only"], c["b_only"]
    assert c["mcnemar_pvalue"] == pytest.approx(stats.binomtest(b, b + cc, 0.5).pvalue if b + cc else 1.0)
    assert c["diff"] == pytest.approx(c["b_ks_at_n"] - c["a_ks_at_n"])
    assert c["diff_ci_low"] <= c["diff"] <= c["diff_ci_high"]
    assert {g["group"] for g in c["by_group"]} >= {"kind:canonical", "support:continuous", "support:discrete", "tag:family:normal"}


def test_compare_is_deterministic(scripted_run, compare_json):
    # another hash seed: nothing may depend on set or dict order of strings
    again = stochbox_cli("compare", str(scripted_run), "--json", "--fidelity", "--m", "400", *SANDBOX, env={"PYTHONHASHSEED": "2"})
    assert again.stdout == compare_json


def test_program_fidelity_separates_a_wrong_program(compare_json):
    (f,) = json.loads(compare_json)["fidelity"]
    rows = {s["scenario"]: s for s in f["scenarios"]}
    # The sd-3 normal program passes at N=30 often enough, but not when re-run 400 times.
    assert rows["normal-explicit"]["checked"] == 30 and rows["normal-explicit"]["fidelity"] == 0.0
    for sid in ("die-roll", "weather-categorical", "shuffle-abcd"):
        assert rows[sid]["fidelity"] == 1.0, rows[sid]
    assert f["checked"] == 120 and f["program_passed"] == 90
    programs = {p["scenario"]: p for p in f["programs"]}
    assert programs["normal-explicit"]["samples"] == 400 and programs["normal-explicit"]["result"]["n"] == 400


def test_compare_single_arm_is_a_user_error(tmp_path, scripted_run, cache_dir):
    proc = stochbox_cli("compare", str(tmp_path / "nope"))
    assert proc.returncode != 0 and proc.stderr.startswith("error:") and "Traceback" not in proc.stderr


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.chromium
def test_html_report_renders_in_headless_chromium(scripted_run, tmp_path):
    from stochbox.analysis.html_report import write_html_report

    out = write_html_report([scripted_run], tmp_path / "report.html", sandbox="unsafe-subprocess")
    page = out.read_text()
    for external in ('src="http', "src='http", 'href="http', "<link", "<script"):
        assert external not in page  # self-contained: opens from disk with no network
    # the summary shows both intervals and the too-regular count; each scenario row its diagnostic
    assert "95% family-clustered CI" in page and "too regular" in page and "family-clustered 95% CI" in page
    again = write_html_report([scripted_run], tmp_path / "again.html", sandbox="unsafe-subprocess")
    assert again.read_bytes() == out.read_bytes()  # deterministic
    browser = _chromium()
    require_or_skip("STOCHBOX_REQUIRE_CHROMIUM", browser is not None, "chromium is not installed")
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
             "--dump-dom", out.as_uri()],
            capture_output=True, text=True, timeout=120,
        )
    dom = proc.stdout
    assert proc.returncode == 0 and "<body>" in dom, proc.stderr[-500:]
    for section in ("summary", "curves", "comparison", "scenarios"):
        assert f'id="{section}"' in dom
    assert dom.count('class="plot-curve"') == 1 and "<svg" in dom
    assert dom.count('class="plot-ecdf"') == 1  # normal-explicit
    assert dom.count('class="plot-bars"') == 3  # die, weather, shuffle
    assert "data:image/png;base64," in dom
    assert "alpha = 0.05" in dom and "stochbox" in dom
