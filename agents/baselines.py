"""Reference points every report can be read against: ``baseline:oracle`` and ``baseline:collapse``.

``baseline:oracle`` answers with fresh draws of the ground-truth program --
the best any agent can do, and proof the metric can be passed. Seeding (the
draws must be independent of the reference, which uses
``derive_seed(seed, "reference", id)``):

* in a run (the runner calls :meth:`OracleAgent.prepare_run` with the
  :class:`~stochbox.run.plan.RunPlan`), one sandbox execution per (scenario,
  mode) draws all samples the run needs, with seed
  ``derive_seed(run_seed, "oracle", scenario_id, mode)``; episode ``index``
  gets samples ``[index*k, (index+1)*k)`` of that draw (k = samples per
  episode). One execution instead of N keeps an N = 100 run over a large
  pack to seconds, and the result does not depend on the order or
  concurrency in which episodes run, or on resuming.
* used on its own (no plan), each episode runs the program with seed
  ``derive_seed(episode_seed, "oracle")``.

``baseline:collapse`` answers one typical value every time -- the failure
stochbox exists to catch: the reference median for continuous and discrete
scenarios (an actual reference value, the lower median), the most frequent
label or permutation for categorical and permutation scenarios, and for
multivariate the reference sample nearest (Euclidean) to the coordinate-wise
median. Ties go to the first candidate in a fixed order, so it is
deterministic.

Both behave like real agents towards the runner: they emit ``sandbox_exec``,
``sample_submitted`` (and ``error``) events and never raise for a failing
ground-truth program (the episode is ``failed`` with the reason).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import TYPE_CHECKING, Any

import numpy as np

from stochbox.agents.base import Agent, EpisodeContext, EpisodeOutcome
from stochbox.agents.exec_event import sandbox_exec_fields, valid_exec_result
from stochbox.errors import StochboxError
from stochbox.results import EpisodeStatus, Mode
from stochbox.sandbox.base import TRUTH_OUTPUT_CAP
from stochbox.scenarios.models import Scenario, Support
from stochbox.seeding import derive_seed
from stochbox.reference.truth import parse_samples, program_for

if TYPE_CHECKING:
    from stochbox.run.plan import RunPlan

BASELINES = ("baseline:oracle", "baseline:collapse")
_TRACE_OUTPUT_CHARS = 4096  # enough to audit; the full draw is in the samples


class OracleAgent(Agent):
    name = "baseline:oracle"
    needs_sandbox = True  # runs ground truth in both modes

    def __init__(self) -> None:
        self._plan: RunPlan | None = None
        self._index: dict[str, int] = {}
        self._pools: dict[tuple[str, str], asyncio.Future[list[Any]]] = {}

    def prepare_run(self, plan: "RunPlan") -> None:
        """Draw per (scenario, mode) for the whole run; see the module docstring."""
        self._plan = plan
        self._index = {e.episode_id: e.index for e in plan.episodes if e.model == self.name}
        self._pools.clear()

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": "baseline",
            "seeding": 'in a run, one draw per (scenario, mode) with derive_seed(run_seed, "oracle", scenario, mode), '
            "episode i taking samples [i*k, (i+1)*k); alone, derive_seed(episode_seed, \"oracle\") per episode",
        }

    async def arun_episode(self, ctx: EpisodeContext) -> EpisodeOutcome:
        if ctx.sandbox is None:
            raise StochboxError("baseline:oracle needs a sandbox to run ground truth")
        try:
            if self._plan is not None and ctx.episode_id in self._index:
                pool = await self._pool(ctx)
                i, k = self._index[ctx.episode_id], ctx.n_samples
                samples = pool[i * k : (i + 1) * k]
            else:
                samples = await self._draw(ctx, ctx.n_samples, derive_seed(ctx.seed, "oracle"))
        except StochboxError as exc:  # TruthError: the program failed; the episode fails, the run goes on
            ctx.emit("error", where="oracle", message=str(exc))
            return EpisodeOutcome(status=EpisodeStatus.failed, reason=str(exc))
        return _submit(ctx, samples)

    async def _pool(self, ctx: EpisodeContext) -> list[Any]:
        plan = self._plan
        assert plan is not None
        key = (ctx.scenario.id, Mode(ctx.mode).value)
        fut = self._pools.get(key)
        if fut is None:  # first episode of this (scenario, mode) draws for all of them
            fut = asyncio.get_running_loop().create_future()
            self._pools[key] = fut
            total = plan.episodes_per_scenario * plan.samples_per_episode
            try:
                fut.set_result(await self._draw(ctx, total, derive_seed(plan.run_seed, "oracle", *key)))
            except asyncio.CancelledError:
                del self._pools[key]  # let a later episode draw again
                fut.cancel()
                raise
            except Exception as exc:
                fut.set_exception(exc)
                fut.exception()  # mark retrieved: other episodes may never ask
        return await asyncio.shield(fut)

    async def _draw(self, ctx: EpisodeContext, n: int, seed: int) -> list[Any]:
        sc = ctx.scenario
        code, globals_ = program_for(sc, n)
        timeout_s = sc.ground_truth.timeout_s
        res = await ctx.sandbox.aexecute(  # type: ignore[union-attr]
            code, timeout_s=timeout_s, seed=seed, output_cap=TRUTH_OUTPUT_CAP, globals_=globals_
        )
        res, replaced = valid_exec_result(res)
        fields = sandbox_exec_fields(
            res, code=code, globals_=globals_, seed=seed, timeout_s=timeout_s,
            output_cap=TRUTH_OUTPUT_CAP, trim=_TRACE_OUTPUT_CHARS,
        )
        if replaced:
            fields["unicode_replaced"] = replaced
        # everything the execution ran with (and the pack's program), so replay needs nothing but the trace
        ctx.emit("sandbox_exec", **fields, program=sc.ground_truth.code)
        return parse_samples(sc, res, n)


class CollapseAgent(Agent):
    name = "baseline:collapse"
    needs_reference = True

    def __init__(self) -> None:
        self._answers: dict[str, Any] = {}

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "kind": "baseline", "answer": "reference median / mode / nearest-to-median vector"}

    async def arun_episode(self, ctx: EpisodeContext) -> EpisodeOutcome:
        if not ctx.reference:
            raise StochboxError("baseline:collapse needs the scenario's reference samples")
        sc = ctx.scenario
        if sc.id not in self._answers:
            self._answers[sc.id] = typical_value(sc, ctx.reference)
        return _submit(ctx, [self._answers[sc.id]] * ctx.n_samples)


def typical_value(scenario: Scenario, reference: list[Any]) -> Any:
    """The one value collapse answers (see the module docstring); always an element of ``reference``."""
    support = scenario.support
    if support in (Support.continuous, Support.discrete):
        ordered = sorted(reference)
        return ordered[(len(ordered) - 1) // 2]
    if support in (Support.categorical, Support.permutation):
        counts = Counter(json.dumps(v) for v in reference)
        first_seen = {k: i for i, k in reversed(list(enumerate(json.dumps(v) for v in reference)))}
        best = max(counts, key=lambda k: (counts[k], -first_seen[k]))
        return json.loads(best)
    # multivariate
    arr = np.asarray(reference, dtype=float)
    dist = np.linalg.norm(arr - np.median(arr, axis=0), axis=1)
    return reference[int(np.argmin(dist))]


def _submit(ctx: EpisodeContext, samples: list[Any]) -> EpisodeOutcome:
    ctx.emit("sample_submitted", samples=samples)
    status = EpisodeStatus.ok if len(samples) == ctx.n_samples else EpisodeStatus.partial
    return EpisodeOutcome(status=status, samples=samples, raw_answer=json.dumps(samples))


def make_baseline(spec: str) -> Agent:
    if spec == "baseline:oracle":
        return OracleAgent()
    if spec == "baseline:collapse":
        return CollapseAgent()
    raise KeyError(spec)
