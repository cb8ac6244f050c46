"""Scenario packs: the problems stochbox poses and their ground truth.

Public surface::

    from stochbox.scenarios import Scenario, Pack, load_pack, resolve_packs, select_scenarios
"""

from stochbox.scenarios.loader import load_pack, load_scenario, validate_path
from stochbox.scenarios.models import (
    AnswerFormat,
    AnswerType,
    GroundTruth,
    Kind,
    Pack,
    PackManifest,
    ReferenceDistribution,
    Scenario,
    Support,
    ToolDeclaration,
)
from stochbox.scenarios.registry import builtin_pack_names, find_scenario, get_pack, resolve_packs, select_scenarios

__all__ = [
    "AnswerFormat",
    "AnswerType",
    "GroundTruth",
    "Kind",
    "Pack",
    "PackManifest",
    "ReferenceDistribution",
    "Scenario",
    "Support",
    "ToolDeclaration",
    "builtin_pack_names",
    "find_scenario",
    "get_pack",
    "load_pack",
    "load_scenario",
    "resolve_packs",
    "select_scenarios",
    "validate_path",
]
