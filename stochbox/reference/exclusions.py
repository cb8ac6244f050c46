"""Scenarios a run leaves out because their ground truth does not work.

Contract:

* :func:`working_references` loads (or generates in the sandbox) every
  scenario's reference, like :func:`stochbox.run.runner.load_references`, but a
  scenario whose ground-truth program fails or breaks its output contract (a
  :class:`~stochbox.reference.truth.TruthError`: raises, times out, prints the wrong
  number of samples or values that do not match the answer format) is
  *excluded* instead of stopping the run. Any other error (no sandbox, a
  disk that cannot be written) still propagates: it is not the scenario's
  fault.
* Excluded scenarios come back as :class:`ExcludedScenario` in the order of
  ``scenarios``; the run records them in ``run.json``
  (:attr:`stochbox.run.runinfo.RunInfo.excluded`) and leaves them out of its
  scenarios, so a resumed run keeps exactly the same exclusions and the
  report lists them beside KS@N.
* When every scenario fails there is nothing to run: the first scenario's
  :class:`~stochbox.reference.truth.TruthError` is raised (one failing scenario gives
  its own error unchanged).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict

from stochbox.reference.cache import ReferenceCache, ReferenceRef
from stochbox.sandbox.base import Sandbox
from stochbox.scenarios.models import Scenario
from stochbox.reference.truth import TruthError


class ExcludedScenario(BaseModel):
    """One scenario left out of a run, and why (recorded in ``run.json``, shown by ``report``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str
    source: str | None = None  # the scenario's file or pack
    reason: str  # what the ground truth did, e.g. "must print a JSON list of N=10000 samples, got 3"


def _reason(scenario: Scenario, error: TruthError) -> str:
    message = str(error)
    prefix = f"scenario '{scenario.id}' ({scenario.source or scenario.pack}): "
    return message[len(prefix) :] if message.startswith(prefix) else message


async def working_references(
    refs: list[ReferenceRef], scenarios: list[Scenario], cache: ReferenceCache, sandbox: Sandbox | None, jobs: int
) -> tuple[dict[str, list[Any]], list[ExcludedScenario]]:
    """(reference samples by scenario id for the scenarios that work, the excluded ones). See the module contract."""
    by_id = {s.id: s for s in scenarios}
    gate = asyncio.Semaphore(jobs)

    async def one(ref: ReferenceRef) -> list[Any] | TruthError:
        cached = cache.load(ref.key)
        if cached is not None:
            return cached
        if sandbox is None:
            raise ValueError("working_references needs a sandbox for references missing from the cache")
        async with gate:
            try:
                samples, _ = await cache.aget_ref(ref, by_id[ref.scenario], sandbox)
            except TruthError as exc:
                return exc
        return samples

    values = await asyncio.gather(*(one(r) for r in refs))
    references: dict[str, list[Any]] = {}
    excluded: list[ExcludedScenario] = []
    errors: list[TruthError] = []
    for ref, value in zip(refs, values):
        if isinstance(value, TruthError):
            sc = by_id[ref.scenario]
            excluded.append(ExcludedScenario(scenario=sc.id, source=sc.source or sc.pack, reason=_reason(sc, value)))
            errors.append(value)
        else:
            references[ref.scenario] = value
    if errors and not references:
        if len(errors) == 1:
            raise errors[0]
        raise TruthError(f"the ground truth of every scenario failed ({len(errors)}); the first: {errors[0]}")
    return references, excluded
