"""Evaluators: statistical tests by support, KS@N, comparisons, calibration, reports.

Public surface::

    from stochbox.evaluators import (
        evaluate_scenario, summarize, ksn_curve,       # per-scenario verdicts, KS@N (+ curves)
        get_preset, Preset,                            # pass rules: "stochbox", "unpredictabench"
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
from stochbox.evaluators.models import KSAtNSummary, Preset, ScenarioTestResult
from stochbox.evaluators.outcome import TestOutcome
from stochbox.evaluators.presets import PRESET_NAMES, STOCHBOX, UNPREDICTABENCH, get_preset
from stochbox.evaluators.summary import DEFAULT_CURVE_NS, ksn_curve, summarize

_LAZY = {
    "write_html_report": "stochbox.analysis.html_report",
    "load_run": "stochbox.analysis.runs",
    "compare_runs": "stochbox.analysis.compare",
    "calibrate": "stochbox.analysis.calibration",
    "program_fidelity": "stochbox.analysis.fidelity",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stochbox.evaluators' has no attribute {name!r}")


__all__ = [
    "DEFAULT_CURVE_NS",
    "KSAtNSummary",
    "PRESET_NAMES",
    "Preset",
    "STOCHBOX",
    "ScenarioTestResult",
    "TestOutcome",
    "UNPREDICTABENCH",
    "calibrate",
    "compare_runs",
    "evaluate_scenario",
    "get_preset",
    "ksn_curve",
    "load_run",
    "program_fidelity",
    "summarize",
    "write_html_report",
]
