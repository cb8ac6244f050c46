"""Family-clustered intervals: coverage by simulation, where the Wilson interval undercovers."""

from __future__ import annotations

import numpy as np
import pytest

from stochbox.evaluators.intervals import cluster_bootstrap_interval, family_of, wilson_interval


def _clustered_data(rng: np.random.Generator, clusters: int = 60) -> tuple[list[float], list[str]]:
    """Families of 1-5 scenarios sharing a pass probability drawn from Beta(1.4, 0.6) (mean 0.7, ICC 0.5)."""
    values, labels = [], []
    for c in range(clusters):
        p = rng.beta(1.4, 0.6)
        for _ in range(rng.integers(1, 6)):
            values.append(float(rng.random() < p))
            labels.append(f"family:{c}")
    return values, labels


def test_cluster_bootstrap_covers_clustered_data_where_wilson_does_not():
    """400 simulated libraries: the true pass probability of a new scenario is 0.7."""
    truth, reps = 0.7, 400
    wilson_hits = cluster_hits = 0
    for rep in range(reps):
        rng = np.random.default_rng([2026, rep])
        values, labels = _clustered_data(rng)
        lo, hi = wilson_interval(int(sum(values)), len(values))
        wilson_hits += lo <= truth <= hi
        lo, hi = cluster_bootstrap_interval(values, labels, seed=rep, draws=1999)
        cluster_hits += lo <= truth <= hi
    wilson, cluster = wilson_hits / reps, cluster_hits / reps
    print(f"\ncoverage of nominal 95%: Wilson {wilson:.3f}, family-clustered bootstrap {cluster:.3f}")
    assert wilson <= 0.88
    assert 0.91 <= cluster <= 0.99


def test_independent_scenarios_give_about_the_wilson_interval():
    rng = np.random.default_rng(1)
    values = (rng.random(200) < 0.8).astype(float).tolist()
    labels = [f"scenario:{i}" for i in range(200)]
    lo, hi = cluster_bootstrap_interval(values, labels, seed=0)
    wlo, whi = wilson_interval(int(sum(values)), 200)
    assert abs((hi - lo) - (whi - wlo)) < 0.02


def test_differences_and_edge_cases():
    # a paired difference (-1, 0, 1) per scenario, resampled by family
    lo, hi = cluster_bootstrap_interval([1, 1, 0, -1, 0, 0], ["a", "a", "b", "b", "c", "d"], seed=3)
    assert -1 <= lo <= 1 / 6 <= hi <= 1
    assert cluster_bootstrap_interval([1, 1, 1], ["a", "b", "c"], seed=0) == (1.0, 1.0)
    assert cluster_bootstrap_interval([1, 0], ["a", "a"], seed=0) == (0.5, 0.5)  # one cluster: nothing to resample
    assert cluster_bootstrap_interval([1, 0, 1], ["a", "b", "c"], seed=5) == cluster_bootstrap_interval([1, 0, 1], ["a", "b", "c"], seed=5)
    with pytest.raises(ValueError):
        cluster_bootstrap_interval([1, 0], ["a"], seed=0)


def test_family_of():
    assert family_of("x", ["kind:canonical", "family:normal", "family:other"]) == "family:normal"
    assert family_of("x", ["kind:canonical"]) == "scenario:x"


def test_parse_rate_counts_samples_that_fail_validation(canonical):
    """A stored sample outside the answer format (a label not in the list, a non-number) is not parsed."""
    from pathlib import Path

    from stochbox.analysis.runs import RunData
    from stochbox.results import EpisodeRecord

    def record(scenario: str, index: int, samples: list) -> EpisodeRecord:
        return EpisodeRecord(run_id="r", episode_id=f"{scenario}-{index}", scenario=scenario, model="m", mode="native",
                             index=index, seed=index, n_requested=2, samples=samples, status="ok")

    class _Info:  # the two things parse_rate reads
        scenarios = [canonical["weather-categorical"], canonical["normal-explicit"]]

    recs = {
        "weather-categorical": [record("weather-categorical", 0, ["sun", "snow"]), record("weather-categorical", 1, ["rain"])],
        "normal-explicit": [record("normal-explicit", 0, [1.5, "abc"]), record("normal-explicit", 1, [2.0, 3.0])],
    }
    run = RunData(run_dir=Path("."), info=_Info(), records={("m", "native"): recs}, samples={}, references={})
    # requested 8; valid: sun, rain, 1.5, 2.0, 3.0 (snow is not a label, "abc" not a number, one missing)
    assert run.parse_rate(("m", "native")) == 5 / 8
