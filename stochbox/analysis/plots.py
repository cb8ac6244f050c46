"""Static plots for the HTML report (matplotlib, Agg backend, no display needed).

Contract: every function returns a self-contained HTML fragment -- inline
``<svg>`` for KS@N curves, an ``<img src="data:image/png;base64,...">`` for
per-scenario plots (smaller than SVG with 10,000 reference points) -- with a
``class`` attribute naming the plot kind (``plot-curve``, ``plot-ecdf``,
``plot-bars``), so the report and its tests can find them. Figures are closed
after rendering; nothing is written to disk.
"""

from __future__ import annotations

import base64
import html
import io
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
# Deterministic SVG: fixed ids instead of uuid-salted ones (the report must be byte-identical run to run).
matplotlib.rcParams["svg.hashsalt"] = "stochbox"
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from stochbox.evaluators.models import KSAtNSummary  # noqa: E402
from stochbox.scenarios.models import Scenario, Support  # noqa: E402

REFERENCE_COLOR = "#444444"
MAX_BAR_CATEGORIES = 30


def _png(fig, css: str, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode()
    return f'<img class="{css}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _svg(fig, css: str) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg") :]  # drop the XML prolog and doctype: inline SVG in HTML
    return f'<div class="{css}">{svg}</div>'


def ksn_curve_plot(curves: Mapping[str, Sequence[KSAtNSummary]], title: str) -> str:
    """KS@N against N (log axis) per arm, with the Wilson 95% interval as a band."""
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for label, points in curves.items():
        ns = [p.n for p in points]
        ax.plot(ns, [p.ks_at_n for p in points], marker="o", label=label)
        ax.fill_between(ns, [p.ci_low for p in points], [p.ci_high for p in points], alpha=0.15)
    ax.set_xscale("log")
    ax.set_ylim(-0.02, 1.02)
    ax.set_xlabel("N (samples per scenario)")
    ax.set_ylabel("KS@N")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    return _svg(fig, "plot-curve")


def _ecdf(ax, values: np.ndarray, **kw: Any) -> None:
    x = np.sort(values)
    ax.step(x, np.arange(1, len(x) + 1) / len(x), where="post", **kw)


def scenario_plot(scenario: Scenario, arms: Mapping[str, Sequence[Any]], reference: Sequence[Any]) -> str:
    """ECDF overlay (continuous, per coordinate for vectors) or frequency bars (discrete, labels, orderings)."""
    support = scenario.support
    arms = {k: [v for v in vals if v is not None] for k, vals in arms.items()}
    if support is Support.continuous:
        fig, ax = plt.subplots(figsize=(5.2, 3.0))
        _ecdf(ax, np.asarray(reference, dtype=float), color=REFERENCE_COLOR, lw=2, label=f"reference ({len(reference)})")
        for label, vals in arms.items():
            if vals:
                _ecdf(ax, np.asarray(vals, dtype=float), lw=1.2, label=f"{label} ({len(vals)})")
        lo, hi = np.percentile(np.asarray(reference, dtype=float), [0.5, 99.5])
        pad = (hi - lo) * 0.1 or 1.0
        ax.set_xlim(lo - pad, hi + pad)  # heavy tails (Cauchy) would squash the picture otherwise
        ax.set_ylabel("ECDF")
        ax.legend(fontsize=7)
        ax.set_title(scenario.id, fontsize=9)
        return _png(fig, "plot-ecdf", f"ECDF of {scenario.id}")
    if support is Support.multivariate:
        dim = min(scenario.dimension or 1, 4)
        fig, axes = plt.subplots(1, dim, figsize=(2.6 * dim, 2.6), squeeze=False)
        ref = np.asarray(reference, dtype=float)
        for j, ax in enumerate(axes[0]):
            _ecdf(ax, ref[:, j], color=REFERENCE_COLOR, lw=2, label="reference")
            for label, vals in arms.items():
                if vals:
                    _ecdf(ax, np.asarray(vals, dtype=float)[:, j], lw=1.2, label=label)
            ax.set_title(f"coordinate {j + 1}", fontsize=8)
        axes[0][0].legend(fontsize=6)
        return _png(fig, "plot-ecdf", f"per-coordinate ECDFs of {scenario.id}")
    return _bars(scenario, arms, reference)


def _key(scenario: Scenario, value: Any) -> str:
    if scenario.support is Support.permutation:
        return "".join(map(str, value)) if all(len(str(x)) == 1 for x in value) else ",".join(map(str, value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _bars(scenario: Scenario, arms: Mapping[str, Sequence[Any]], reference: Sequence[Any]) -> str:
    ref_counts = Counter(_key(scenario, v) for v in reference)
    arm_counts = {label: Counter(_key(scenario, v) for v in vals) for label, vals in arms.items()}
    keys = set(ref_counts)
    for c in arm_counts.values():
        keys |= set(c)
    if scenario.support is Support.discrete:
        ordered = sorted(keys, key=float)
    elif scenario.support is Support.categorical and scenario.labels:
        ordered = [lab for lab in scenario.labels if lab in keys]
    else:
        ordered = sorted(keys, key=lambda k: (-ref_counts[k], k))
    truncated = len(ordered) > MAX_BAR_CATEGORIES
    if truncated:  # keep the most frequent categories overall, in their natural order
        total = Counter(ref_counts)
        for c in arm_counts.values():
            total.update({k: v * len(reference) / max(1, sum(c.values())) for k, v in c.items()})
        keep = {k for k, _ in total.most_common(MAX_BAR_CATEGORIES)}
        ordered = [k for k in ordered if k in keep]
    series = {"reference": (ref_counts, len(reference))}
    series.update({label: (c, max(1, sum(c.values()))) for label, c in arm_counts.items()})
    fig, ax = plt.subplots(figsize=(min(11.0, max(5.2, 0.12 * len(ordered) * len(series))), 3.0))
    width = 0.8 / len(series)
    x = np.arange(len(ordered))
    for i, (label, (counts, total)) in enumerate(series.items()):
        kw = {"color": REFERENCE_COLOR} if label == "reference" else {}
        ax.bar(x + i * width - 0.4 + width / 2, [counts[k] / total for k in ordered], width, label=label, **kw)
    ax.set_xticks(x)
    ax.set_xticklabels(ordered, rotation=60 if len(ordered) > 8 else 0, fontsize=7)
    ax.set_ylabel("frequency")
    title = scenario.id + (f" (top {MAX_BAR_CATEGORIES} categories)" if truncated else "")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    return _png(fig, "plot-bars", f"frequencies of {scenario.id}")
