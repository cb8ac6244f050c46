"""Evaluators: the statistics, as pure functions of samples -- tests by support, KS@N, pass rules.

Public surface::

    from stochbox.evaluators import (
        evaluate_scenario, summarize, ksn_curve,       # per-scenario verdicts, KS@N (+ curves)
        get_preset, Preset,                            # pass rules: "stochbox", "unpredictabench"
        ScenarioTestResult, KSAtNSummary, TestOutcome, # result objects
    )

Tests by support live in private-ish modules (``ks``, ``categorical``,
``energy``, ``permutations``) and return :class:`TestOutcome`;
:func:`evaluate_scenario` picks one from the scenario's declared support and
the data (see :mod:`stochbox.evaluators.dispatch`). Nothing here reads run
folders, runs sandboxes or draws plots: that is :mod:`stochbox.analysis`
(``load_run``, ``compare_runs``, ``calibrate``, ``program_fidelity``, the reports).
"""

from stochbox.evaluators.dispatch import evaluate_scenario
from stochbox.evaluators.models import KSAtNSummary, Preset, ScenarioTestResult
from stochbox.evaluators.outcome import TestOutcome
from stochbox.evaluators.presets import PRESET_NAMES, STOCHBOX, UNPREDICTABENCH, get_preset
from stochbox.evaluators.summary import DEFAULT_CURVE_NS, ksn_curve, summarize

__all__ = [
    "DEFAULT_CURVE_NS",
    "KSAtNSummary",
    "PRESET_NAMES",
    "Preset",
    "STOCHBOX",
    "ScenarioTestResult",
    "TestOutcome",
    "UNPREDICTABENCH",
    "evaluate_scenario",
    "get_preset",
    "ksn_curve",
    "summarize",
]
