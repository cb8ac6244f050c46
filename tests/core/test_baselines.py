"""The baselines' answers: collapse picks an actual typical reference value; resolve_agent's errors."""

from __future__ import annotations

import pytest

from stochbox.agents.baselines import CollapseAgent, OracleAgent, typical_value
from stochbox.agents.resolve import resolve_agent
from stochbox.errors import ModelSpecError
from stochbox.scenarios import load_pack


@pytest.fixture
def scenarios(tiny_pack):
    return {s.id: s for s in load_pack(tiny_pack).scenarios}


def test_collapse_answers_the_lower_median_as_an_actual_reference_value(scenarios):
    assert typical_value(scenarios["expo"], [3.0, 1.0, 2.0, 10.0]) == 2.0
    assert typical_value(scenarios["poisson"], [4, 1, 7]) == 4


def test_collapse_answers_the_most_frequent_label_first_seen_on_ties(scenarios):
    assert typical_value(scenarios["coin"], ["tails", "heads", "tails"]) == "tails"
    assert typical_value(scenarios["coin"], ["heads", "tails"]) == "heads"


def test_collapse_answers_the_reference_vector_nearest_the_coordinatewise_median(scenarios):
    ref = [[0.0, 0.0], [0.5, 0.4], [1.0, 1.0], [0.9, 0.1], [0.7, 0.35]]
    # coordinate-wise median is (0.7, 0.35) -- not the mean (0.62, 0.37), whose nearest is (0.5, 0.4)
    assert typical_value(scenarios["point"], ref) == [0.7, 0.35]
    ref[-1] = [0.65, 0.2]  # median now (0.65, 0.2): nearest sample (0.65, 0.2) itself, not (0.9, 0.1)
    assert typical_value(scenarios["point"], ref) == [0.65, 0.2]


def test_resolve_agent_builds_baselines_and_names_bad_specs():
    assert isinstance(resolve_agent("baseline:oracle"), OracleAgent)
    assert isinstance(resolve_agent("baseline:collapse"), CollapseAgent)
    with pytest.raises(ModelSpecError, match="baseline:median"):
        resolve_agent("baseline:median")
    with pytest.raises(ModelSpecError, match="gpt"):
        resolve_agent("gpt")
