"""Evaluators: statistical tests by support, KS@N, comparisons, reports.

Public surface (grows with the evaluation-science issue)::

    from stochbox.evaluators import ScenarioTestResult, KSAtNSummary, Preset
"""

from stochbox.evaluators.models import KSAtNSummary, Preset, ScenarioTestResult

__all__ = ["KSAtNSummary", "Preset", "ScenarioTestResult"]
