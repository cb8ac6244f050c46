"""Evaluators: the statistics, as pure functions of samples -- tests by support, KS@N, pass rules.

Public surface::

    from stochbox.evaluators import (
        evaluate_scenario, summarize, ksn_curve,       # per-scenario verdicts, KS@N (+ curves)
        summarize_by_tag, group_by_tag, TagSummary,    # KS@N per value of a tag prefix (the paper's tables)
        get_preset, Preset,                            # pass rules: "stochbox", "unpredictabench", ...
        ks_exact, KSExactResult,                       # exact two-sample KS p-value given the pooled sample
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
from stochbox.evaluators.groups import TagSummary, group_by_tag, scenario_groups, summarize_by_tag, tag_prefix
from stochbox.evaluators.models import KSAtNSummary, Preset, ScenarioTestResult
from stochbox.evaluators.outcome import TestOutcome
from stochbox.evaluators.presets import PRESET_NAMES, STOCHBOX, UNPREDICTABENCH, get_preset
from stochbox.evaluators.smirnov import KSExactResult, ks_exact
from stochbox.evaluators.summary import DEFAULT_CURVE_NS, ksn_curve, summarize

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
    "evaluate_scenario",
    "get_preset",
    "group_by_tag",
    "ks_exact",
    "ksn_curve",
    "scenario_groups",
    "summarize",
    "summarize_by_tag",
    "tag_prefix",
]
