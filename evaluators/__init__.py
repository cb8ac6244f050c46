"""Evaluators: statistical tests by support, KS@N, comparisons, calibration, reports.

Public surface::

    from stochbox.evaluators import (
        evaluate_scenario, summarize, ksn_curve,       # per-scenario verdicts, KS@N (+ curves)
        summarize_by_tag, group_by_tag, TagSummary,    # KS@N per value of a tag prefix (the paper's tables)
        get_preset, Preset,                            # pass rules: "stochbox", "unpredictabench", ...
        ks_exact, KSExactResult,                       # exact two-sample KS p-value given the pooled sample
        ScenarioTestResult, KSAtNSummary, TestOutcome, # result objects
        write_html_report,                             # one static HTML file for run folders
        load_run, compare_runs, calibrate, program_fidelity,
    )

The last five load lazily (on first attribute access): they import the run
store, the report module and matplotlib, which themselves import this
package.

Tests by support live in private-ish modules (``ks``, ``categorical``,
``energy``, ``permutations``) and return :class:`TestOutcome`;
:func:`evaluate_scenario` picks one from the scenario's declared support and
the data (see :mod:`stochbox.evaluators.dispatch`).
"""

from stochbox.evaluators.dispatch import evaluate_scenario
from stochbox.evaluators.groups import TagSummary, group_by_tag, scenario_groups, summarize_by_tag, tag_prefix
from stochbox.evaluators.models import KSAtNSummary, Preset, ScenarioTestResult
from stochbox.evaluators.outcome import TestOutcome
from stochbox.evaluators.presets import PRESET_NAMES, STOCHBOX, UNPREDICTABENCH, get_preset
from stochbox.evaluators.smirnov import KSExactResult, ks_exact
from stochbox.evaluators.summary import DEFAULT_CURVE_NS, ksn_curve, summarize

_LAZY = {
    "write_html_report": "stochbox.evaluators.html_report",
    "load_run": "stochbox.evaluators.runs",
    "compare_runs": "stochbox.evaluators.compare",
    "calibrate": "stochbox.evaluators.calibration",
    "program_fidelity": "stochbox.evaluators.fidelity",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stochbox.evaluators' has no attribute {name!r}")


__all__ = [
    "DEFAULT_CURVE_NS",
    "KSAtNSummary",
    "KSExactResult",
    "PRESET_NAMES",
    "Preset",
    "STOCHBOX",
    "ScenarioTestResult",
    "TagSummary",
    "TestOutcome",
    "UNPREDICTABENCH",
    "calibrate",
    "compare_runs",
    "evaluate_scenario",
    "get_preset",
    "group_by_tag",
    "ks_exact",
    "ksn_curve",
    "load_run",
    "program_fidelity",
    "scenario_groups",
    "summarize",
    "summarize_by_tag",
    "tag_prefix",
    "write_html_report",
]
