"""One static HTML file per report: summary, KS@N curves, comparisons, per-scenario plots.

Contract of :func:`write_html_report`:

* Reads run folders only through :func:`.runs.load_run`; writes exactly one
  file, ``out`` (atomically), with no external resources: styles inline, plots
  inline (SVG curves, base64 PNG per-scenario plots). It opens from disk in
  any browser, no server.
* Every number states its preset and alpha; KS@N intervals are 95% Wilson,
  and the summary adds the 95% family-clustered bootstrap interval and the
  count of too-regular scenarios (each scenario row says why).
* Sections carry stable ids for tests and links: ``summary``, ``by-tag``
  (only with ``by_tag`` prefixes: KS@N per tag value, as ``report --by-tag``),
  ``excluded`` (only when a run left scenarios out), ``curves``,
  ``comparison``, ``fidelity`` (only when fidelity reports are passed in),
  ``scenarios``. All run-provided text (model names, scenario titles) is
  HTML-escaped.
* Deterministic for the same runs and options (no timestamps).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from stochbox.errors import StochboxError
from stochbox.analysis.compare import Comparison, compare_runs
from stochbox.analysis.fidelity import FidelityReport
from stochbox.evaluators.groups import summarize_by_tag
from stochbox.evaluators.models import KSAtNSummary, Preset, ScenarioTestResult
from stochbox.analysis.plots import ksn_curve_plot, scenario_plot
from stochbox.evaluators.presets import get_preset
from stochbox.analysis.runs import ArmKey, RunData, load_run
from stochbox.evaluators.summary import DEFAULT_CURVE_NS, summarize
from stochbox.reference.cache import atomic_write

_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:1200px;color:#222;padding:0 1rem}
h1{font-size:1.6rem}h2{border-bottom:1px solid #ccc;padding-bottom:.2rem;margin-top:2.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.85rem}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}
td.l,th.l{text-align:left}.pass{color:#17752a;font-weight:600}.fail{color:#b3261e;font-weight:600}
.note{color:#555;font-size:.85rem}.scenario{border-top:1px solid #eee;margin-top:1.2rem;padding-top:.6rem}
.plot-curve svg{max-width:100%;height:auto}img{max-width:100%}
"""


def _e(x: object) -> str:
    return html.escape(str(x))


def _f(x: float | None, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _verdict(passed: bool) -> str:
    return '<span class="pass">pass</span>' if passed else '<span class="fail">fail</span>'


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1, css: str = "") -> str:
    th = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>" for r in rows
    )
    return f'<table class="{css}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _prefix_summary(run: RunData, arm: ArmKey, preset: Preset, n: int) -> KSAtNSummary:
    results = run.evaluate(arm, preset, n)
    return summarize(results, parse_rate=sum(r.n_valid for r in results) / (n * len(results)))


def _run_label(run: RunData, many: bool) -> str:
    return f"{run.run_dir.name}: " if many else ""


def _summary_section(runs: Sequence[RunData], preset: Preset) -> str:
    rows = []
    for run in runs:
        for arm in run.arms:
            s = summarize(run.evaluate_checked(arm, preset), parse_rate=run.parse_rate(arm), families=run.families())
            rows.append([
                _e(run.run_dir.name), _e(s.model), _e(s.mode), str(s.n), f"{s.ks_at_n:.3f}",
                f"[{s.ci_low:.3f}, {s.ci_high:.3f}]", f"[{_f(s.cluster_ci_low)}, {_f(s.cluster_ci_high)}] ({s.clusters})",
                f"{s.passed}/{s.scenarios}", str(s.too_regular), f"{s.parse_rate:.3f}", _f(s.mean_statistic),
            ])
    table = _table(["run", "model", "mode", "N", "KS@N", "95% Wilson CI", "95% family-clustered CI", "passed", "too regular",
                    "parse rate", "mean KS distance"], rows, left=3, css="summary")
    note = ('<p class="note">Wilson: scenarios as independent trials (uncertainty over this set\'s outcomes). Family-clustered: '
            "a bootstrap that resamples whole scenario families (<code>family:</code> tags), for a claim about scenarios in "
            "general. Too regular: scenarios whose samples are more regular than independent draws almost ever are "
            "(1% family-wise false-alarm rate; reported, not part of the pass rule).</p>")
    return f'<section id="summary"><h2>Summary</h2>{table}{note}</section>'


def _by_tag_section(runs: Sequence[RunData], preset: Preset, prefixes: Sequence[str]) -> str:
    parts = []
    for prefix in prefixes:
        rows = []
        for run in runs:
            for arm in run.arms:
                for s in summarize_by_tag(run.evaluate(arm, preset), run.scenarios, prefix, parse_rate=lambda ids, run=run, arm=arm: run.parse_rate(arm, ids)):
                    rows.append([
                        _e(run.run_dir.name), _e(s.model), _e(s.mode), _e("(untagged)" if s.value is None else s.value), str(s.n),
                        f"{s.ks_at_n:.3f}", f"[{s.ci_low:.3f}, {s.ci_high:.3f}]", f"{s.passed}/{s.scenarios}", f"{s.parse_rate:.3f}",
                    ])
        parts.append(f"<h3>by {_e(prefix)}</h3>" + _table(
            ["run", "model", "mode", prefix, "N", "KS@N", "95% CI", "passed", "parse rate"], rows, left=4, css="by-tag"))
    note = (f'<p class="note">KS@N of the scenarios carrying each tag value ({_e(preset.name)}, alpha {preset.alpha:g}); '
            "a scenario with several values of one prefix counts in each. Brackets: 95% Wilson intervals.</p>")
    return f'<section id="by-tag"><h2>KS@N by tag</h2>{note}{"".join(parts)}</section>'


def _excluded_section(runs: Sequence[RunData]) -> str:
    rows = [[_e(run.run_dir.name), _e(e.scenario), _e(e.source or "-"), _e(e.reason)] for run in runs for e in run.info.excluded]
    if not rows:
        return ""
    note = '<p class="note">Left out of the run because their ground truth failed; they are in no KS@N above.</p>'
    return f'<section id="excluded"><h2>Scenarios left out</h2>{note}{_table(["run", "scenario", "source", "reason"], rows, left=4)}</section>'


def _curves_section(runs: Sequence[RunData], preset: Preset, ns: Sequence[int]) -> str:
    parts = []
    for run in runs:
        usable = [n for n in sorted(set(ns)) if n <= run.config.n] or [run.config.n]
        curves = {f"{model}/{mode}": [_prefix_summary(run, (model, mode), preset, n) for n in usable] for model, mode in run.arms}
        rows = [[_e(label)] + [f"{p.ks_at_n:.2f} [{p.ci_low:.2f}, {p.ci_high:.2f}]" for p in pts] for label, pts in curves.items()]
        parts.append(f"<h3>{_e(run.run_dir.name)}</h3>")
        parts.append(ksn_curve_plot(curves, f"KS@N by N (prefixes of one run; {preset.name}, alpha {preset.alpha:g})"))
        parts.append(_table(["arm"] + [f"N={n}" for n in usable], rows, css="curve"))
    note = ('<p class="note">Each N uses the first N samples of the run (episode order), so the whole curve comes from one '
            "run at the largest N. Bands and brackets: 95% Wilson intervals over scenarios.</p>")
    return f'<section id="curves"><h2>KS@N curves</h2>{note}{"".join(parts)}</section>'


def _comparison_html(c: Comparison) -> str:
    head = (f"<h3>{_e(c.a)} (A) vs {_e(c.b)} (B)</h3><p>KS@{c.n}: A {c.a_ks_at_n:.3f} ({c.a_passed}/{c.scenarios}), "
            f"B {c.b_ks_at_n:.3f} ({c.b_passed}/{c.scenarios}); B − A = {c.diff:+.3f}, 95% paired-bootstrap CI "
            f"[{c.diff_ci_low:+.3f}, {c.diff_ci_high:+.3f}]"
            + ("" if c.diff_cluster_ci_low is None else
               f", family-clustered 95% CI [{c.diff_cluster_ci_low:+.3f}, {c.diff_cluster_ci_high:+.3f}] ({c.clusters} families)")
            + f". Discordant pairs: A only {c.a_only}, B only {c.b_only}; "
            f"McNemar exact p = {c.mcnemar_pvalue:.3g}.</p>")
    groups = [g for g in c.by_group if not g.group.startswith("tag:")]
    tags = [g for g in c.by_group if g.group.startswith("tag:")]
    grow = lambda g: [_e(g.group), str(g.scenarios), f"{g.a_ks_at_n:.3f}", f"{g.b_ks_at_n:.3f}", f"{g.diff:+.3f}",  # noqa: E731
                      str(g.a_only), str(g.b_only), f"{g.mcnemar_pvalue:.3g}"]
    cols = ["group", "scenarios", "KS@N A", "KS@N B", "B − A", "A only", "B only", "McNemar p"]
    pairs = _table(
        ["scenario", "support", "test", "A", "A p", "B", "B p"],
        [[_e(p.scenario), _e(p.support), _e(p.test), _verdict(p.a_passed), _f(p.a_pvalue, ".3g"), _verdict(p.b_passed), _f(p.b_pvalue, ".3g")]
         for p in c.pairs],
        left=3, css="pairs",
    )
    return (head + _table(cols, [grow(g) for g in groups], css="groups")
            + f"<details><summary>by tag ({len(tags)})</summary>{_table(cols, [grow(g) for g in tags], css='tags')}</details>"
            + f"<details open><summary>scenario by scenario</summary>{pairs}</details>")


def _comparison_section(runs: Sequence[RunData], preset: Preset) -> str:
    try:
        comparisons = compare_runs(runs, preset)
    except StochboxError as exc:
        body = f'<p class="note">No comparison: {_e(exc)}</p>'
    else:
        body = "".join(_comparison_html(c) for c in comparisons)
    return f'<section id="comparison"><h2>Comparison (native vs tool, or models / runs)</h2>{body}</section>'


def _fidelity_section(reports: Sequence[FidelityReport]) -> str:
    parts = []
    for f in reports:
        rows = [[_e(s.scenario), _e(s.model), "-" if s.agent_passed is None else _verdict(s.agent_passed), str(s.checked),
                 str(s.program_passed), _f(s.fidelity, ".2f"), str(s.no_code), str(s.not_sampler)] for s in f.scenarios]
        agg = ("" if f.fidelity is None else
               f"<p>{f.program_passed}/{f.checked} checked episodes ran a program that passes at M={f.m} "
               f"({f.fidelity:.3f}, 95% Wilson CI [{f.ci_low:.3f}, {f.ci_high:.3f}]).</p>")
        parts.append(agg + _table(["scenario", "model", "agent (N)", "checked", "program pass", "fidelity", "no code", "not sampler"], rows, left=2))
    note = ('<p class="note">Program fidelity: the last program each tool-mode episode ran is re-run M times in the sandbox and '
            "its output tested against the reference. A failing program means the model's program is wrong; a passing "
            "program with failing answers means the samples, not the program, are the problem.</p>")
    return f'<section id="fidelity"><h2>Program fidelity</h2>{note}{"".join(parts)}</section>'


def _effects(r: ScenarioTestResult) -> str:
    return ", ".join(f"{_e(k)} {v:.3f}" for k, v in sorted(r.effect.items())) or "-"


def _regular(r: ScenarioTestResult) -> str:
    g = r.regularity
    if g is None:
        return "-"
    return f'<span class="fail">yes: {_e(g.detail)}</span>' if g.too_regular else f"no (p = {g.pvalue:.3g})"


def _scenario_section(runs: Sequence[RunData], preset: Preset) -> str:
    many = len(runs) > 1
    parts = []
    for ri, run in enumerate(runs):
        results = {arm: {r.scenario: r for r in run.evaluate_checked(arm, preset)} for arm in run.arms}
        for sc in run.scenarios:
            rows = []
            for arm in run.arms:
                r = results[arm][sc.id]
                rows.append([_e(f"{_run_label(run, many)}{arm[0]}/{arm[1]}"), _e(r.test), f"{r.n_valid}/{r.n}", _f(r.statistic, ".4f"),
                             _f(r.pvalue, ".3g"), _verdict(r.passed), _regular(r), _effects(r), _e(r.reason or "")])
            plot = scenario_plot(sc, {f"{m}/{mode}": run.samples[(m, mode)][sc.id] for m, mode in run.arms}, run.references[sc.id])
            parts.append(
                f'<div class="scenario" id="scenario-{ri}-{_e(sc.id)}"><h3>{_e(sc.id)} — {_e(sc.title)}</h3>'
                f'<p class="note">pack {_e(sc.pack)}, kind {_e(sc.kind.value)}, support {_e(sc.support.value)}; '
                f"reference {len(run.references[sc.id])} samples</p>"
                + _table(["arm", "test", "valid/N", "statistic", "p-value", "verdict", "too regular", "effect sizes", "reason"],
                         rows, left=2)
                + plot + "</div>"
            )
    return f'<section id="scenarios"><h2>Scenarios</h2>{"".join(parts)}</section>'


def render_html_report(
    runs: Sequence[RunData],
    preset: Preset,
    *,
    fidelity: Sequence[FidelityReport] = (),
    curve_ns: Sequence[int] = DEFAULT_CURVE_NS,
    by_tag: Sequence[str] = (),
) -> str:
    ids = ", ".join(_e(r.info.run_id) for r in runs)
    meta = "".join(
        f"<li>{_e(r.run_dir.name)}: models {_e(', '.join(r.config.models))}; modes "
        f"{_e(', '.join(m.value for m in r.config.modes))}; N={r.config.n}; protocol {_e(r.config.protocol.value)}; "
        f"reference {r.config.reference_n} samples; seed {r.info.seed}; stochbox {_e(r.info.versions.get('stochbox'))}</li>"
        for r in runs
    )
    rule = (f"<p><b>Pass rule:</b> preset <code>{_e(preset.name)}</code>, alpha = {preset.alpha:g}. "
            + ("Support-aware two-sample tests (KS with an exact conditional null for ties, chi-square over labels, energy "
               "distance for vectors, whole-permutation frequencies); a scenario with fewer than N valid samples fails."
               if preset.name == "stochbox" else
               "UnpredictaBench's rule: continuous KS on the valid values among the first N (missing ones dropped), p &gt; 1e-4. "
               "Known to be lenient; shown for comparison with the paper.")
            + " KS@N is the share of scenarios that pass; intervals are 95% Wilson score intervals.</p>")
    sections = [
        _summary_section(runs, preset),
        _by_tag_section(runs, preset, by_tag) if by_tag else "",
        _excluded_section(runs),
        _curves_section(runs, preset, curve_ns),
        _comparison_section(runs, preset),
        _fidelity_section(fidelity) if fidelity else "",
        _scenario_section(runs, preset),
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>stochbox report</title><style>{_CSS}</style></head><body>"
        f"<h1>stochbox report</h1><p class=\"note\">runs: {ids}</p><ul>{meta}</ul>{rule}"
        + "".join(sections)
        + "</body></html>\n"
    )


def write_html_report(
    run_dirs: Sequence[Path | str],
    out: Path | str,
    *,
    preset: str | None = None,
    alpha: float | None = None,
    sandbox: str | None = None,
    fidelity: Sequence[FidelityReport] = (),
    curve_ns: Sequence[int] = DEFAULT_CURVE_NS,
    by_tag: Sequence[str] = (),
    cache_verdicts: bool = True,
) -> Path:
    """Render the report of ``run_dirs`` into the single file ``out``; returns its path.

    ``preset``/``alpha`` default to the first run's configuration; ``by_tag``: tag prefixes
    to break KS@N down by; ``cache_verdicts``: as in :func:`.runs.load_run`.
    """
    runs = [load_run(d, sandbox=sandbox, cache_verdicts=cache_verdicts) for d in run_dirs]
    if not runs:
        raise ValueError("write_html_report needs at least one run folder")
    config = runs[0].config
    rule = get_preset(preset or config.preset, alpha if alpha is not None else config.alpha)
    page = render_html_report(runs, rule, fidelity=fidelity, curve_ns=curve_ns, by_tag=by_tag)
    out = Path(out).expanduser()
    atomic_write(out, page.encode("utf-8"))
    return out
