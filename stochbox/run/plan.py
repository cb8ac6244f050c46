"""Which episodes a run consists of, and their ids and seeds.

Contract: :func:`plan_episodes` is a pure function of the config and the
scenario list. Episode ids are stable and readable
(``<model>/<mode>/<scenario>/<index>``; ``<mode>@<condition>`` in a run
with named conditions), so a resumed run recognises what is already
stored. The seed of episode ``index`` of a scenario is
``derive_seed(run_seed, "episode", scenario_id, index)`` -- the same in
native and tool mode, in every condition and for every model, so
``--mode both``, conditions and multi-model runs pair episodes one to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stochbox.conditions import arm_mode
from stochbox.results import Mode
from stochbox.scenarios.models import Scenario
from stochbox.seeding import derive_seed

if TYPE_CHECKING:
    from stochbox.run.config import RunConfig


def episode_seed(run_seed: int, scenario_id: str, index: int) -> int:
    return derive_seed(run_seed, "episode", scenario_id, index)


def episode_id(model: str, mode: Mode | str, scenario_id: str, index: int, condition: str | None = None) -> str:
    return f"{model}/{arm_mode(Mode(mode).value, condition)}/{scenario_id}/{index}"


@dataclass(frozen=True)
class EpisodeSpec:
    """One episode to run: who answers which scenario, how, with which seed."""

    episode_id: str
    model: str
    mode: Mode
    scenario: Scenario
    index: int  # within (model, mode, condition, scenario)
    seed: int
    n_samples: int  # samples this episode asks for
    condition: str | None = None  # the named condition (None: the run has no --condition)

    def record_identity(self) -> dict[str, Any]:
        """The fields of this episode's :class:`~stochbox.results.EpisodeRecord` that say which episode it is
        (every record of the episode, a finished or an internally failed one, carries exactly these)."""
        return {
            "episode_id": self.episode_id,
            "scenario": self.scenario.id,
            "pack": self.scenario.pack,
            "model": self.model,
            "mode": self.mode,
            "condition": self.condition,
            "index": self.index,
            "seed": self.seed,
            "n_requested": self.n_samples,
        }


@dataclass(frozen=True)
class RunPlan:
    """All episodes of a run, in a deterministic order (model, scenario, index, mode)."""

    run_seed: int
    n: int  # samples per (model, mode, scenario)
    episodes_per_scenario: int
    samples_per_episode: int
    episodes: tuple[EpisodeSpec, ...]


def plan_episodes(config: RunConfig, scenarios: list[Scenario]) -> RunPlan:
    k = config.samples_per_episode
    specs = tuple(
        EpisodeSpec(
            episode_id=episode_id(model, mode, sc.id, i, condition),
            model=model,
            mode=mode,
            scenario=sc,
            index=i,
            seed=episode_seed(config.seed, sc.id, i),
            n_samples=k,
            condition=condition,
        )
        for model in config.models
        for sc in scenarios
        for i in range(config.episodes_per_scenario)
        for condition in [c.name for c in config.conditions] or [None]
        for mode in config.modes  # innermost: a partial --mode both run still holds complete pairs
    )
    return RunPlan(
        run_seed=config.seed,
        n=config.n,
        episodes_per_scenario=config.episodes_per_scenario,
        samples_per_episode=k,
        episodes=specs,
    )
