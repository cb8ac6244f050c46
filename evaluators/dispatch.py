"""One scenario's verdict: pick the test from the declared support and the data, run it, apply the preset.

Contract of :func:`evaluate_scenario`:

* ``samples`` has exactly the N asked for, in episode order; ``None`` marks a
  missing or unparseable sample (values that fail ``coerce_sample`` are
  treated the same way). ``reference`` holds valid reference samples.
  Callers pick the N slots with :func:`.unpredictabench.slots_at_n` (the
  paper's current rule scores the first N *valid* values).
* Under the default preset a scenario with fewer than N valid samples fails
  (``reason`` says so; the test is still run on the valid ones and reported
  for information). Under the paper's presets missing samples are dropped, as
  the paper did, and ``n_valid`` reports how many were left.
* Deterministic: Monte-Carlo p-values are seeded with
  ``derive_seed("evaluate", scenario id, test, N, digest)`` where the digest
  covers every valid agent sample and a fingerprint of the reference (its
  size and 64 evenly spaced values -- hashing all 10,000 would cost more than
  the test), so the same inputs give byte-identical results.

Test choice (``stochbox`` preset), recorded in ``result.test``:

=============  =====================================================================
continuous     ``ks_2samp`` (scipy, exact where feasible); if the pooled data has
               ties (atoms), ``ks_exact`` instead (the continuous p-value is
               conservative with ties)
discrete       ``ks_exact``: KS statistic, exact p-value of the conditional null
               given the pooled sample; ``ks_2samp`` when there are no ties
categorical    ``chi2_mc``: chi-square over labels, Monte-Carlo exact
multivariate   ``energy_perm``: energy-distance permutation test
permutation    ``perm_whole_chi2_mc`` (k <= 6) or ``perm_position_chi2_mc_holm``
=============  =====================================================================

Under the paper's presets (:mod:`.unpredictabench`) the support-aware test
still runs (``extra.stochbox_test``) and the preset's own test decides.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from stochbox.evaluators import categorical, effects, energy, ks, permutations
from stochbox.evaluators.models import Preset, ScenarioTestResult
from stochbox.evaluators.outcome import TestOutcome
from stochbox.evaluators.presets import passes
from stochbox.evaluators.unpredictabench import is_paper_preset, paper_test
from stochbox.scenarios.models import AnswerFormat, Scenario, Support
from stochbox.scenarios.samples import coerce_sample
from stochbox.seeding import derive_seed


def _valid(samples: Sequence[Any | None], fmt: AnswerFormat) -> list[Any]:
    out = []
    for s in samples:
        if s is None:
            continue
        try:
            out.append(coerce_sample(s, fmt))
        except ValueError:
            continue
    return out


def data_digest(agent: Sequence[Any], reference: Sequence[Any]) -> str:
    """Digest of the agent samples and a fingerprint of the reference (seeds Monte-Carlo nulls)."""
    stride = max(1, len(reference) // 64)
    h = hashlib.sha256()
    for part in (list(agent), [len(reference)], list(reference[::stride])):
        h.update(json.dumps(part, separators=(",", ":"), default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:32]


def _rng(scenario: Scenario, test: str, n: int, digest: str) -> np.random.Generator:
    return np.random.default_rng(derive_seed("evaluate", scenario.id, test, n, digest))


def _has_ties(agent: np.ndarray, reference: np.ndarray) -> tuple[bool, int]:
    pool = np.concatenate([agent, reference])
    distinct = len(np.unique(pool))
    return distinct < len(pool), distinct


def support_test(
    scenario: Scenario, agent: list[Any], reference: list[Any], *, n: int, digest: str
) -> tuple[TestOutcome, dict[str, float], dict[str, Any]]:
    """Run the support-aware test on valid samples; returns (outcome, effect sizes, extra)."""
    support = scenario.support
    extra: dict[str, Any] = {}
    if support in (Support.continuous, Support.discrete):
        a, r = np.asarray(agent, dtype=np.float64), np.asarray(reference, dtype=np.float64)
        ties, _ = _has_ties(a, r)
        out = ks.ks_exact_test(a, r) if ties else ks.ks_continuous(a, r)
        eff = effects.numeric_effects(a, r, discrete=support is Support.discrete)
        extra["w1_scale"] = effects.reference_spread(r)[1]
        return out, eff, extra
    if support is Support.categorical:
        out = categorical.chi2_mc(agent, reference, rng=_rng(scenario, "chi2_mc", n, digest))
        return out, {"tv_distance": effects.tv_distance(agent, reference)}, extra
    if support is Support.multivariate:
        a, r = np.asarray(agent, dtype=np.float64), np.asarray(reference, dtype=np.float64)
        out = energy.energy_perm(a, r, rng=_rng(scenario, "energy_perm", n, digest))
        return out, effects.vector_effects(a, r, out.statistic), extra
    if support is Support.permutation:
        k = len(scenario.answer_format.items or [])
        out = permutations.permutation_test(
            agent, reference, k=k, draws=categorical.DEFAULT_DRAWS, rng=_rng(scenario, "permutation", n, digest)
        )
        keys_a = [permutations.permutation_key(s) for s in agent]
        keys_r = [permutations.permutation_key(s) for s in reference]
        return out, {"tv_distance": effects.tv_distance(keys_a, keys_r)}, extra
    raise ValueError(f"no test for support {support!r}")


def evaluate_scenario(
    scenario: Scenario,
    samples: list[Any | None],
    reference: list[Any],
    *,
    model: str,
    mode: str,
    preset: Preset,
) -> ScenarioTestResult:
    n = len(samples)
    if n < 1:
        raise ValueError("samples must hold the N asked for (N >= 1), with None for missing ones")
    if not reference:
        raise ValueError(f"scenario '{scenario.id}': no reference samples")
    agent = _valid(samples, scenario.answer_format)
    n_valid = len(agent)
    base = dict(scenario=scenario.id, model=model, mode=mode, n=n, n_valid=n_valid, alpha=preset.alpha, preset=preset.name)
    if n_valid == 0:
        return ScenarioTestResult(**base, test="none", passed=False, reason=f"no valid samples (0/{n})")
    digest = data_digest(agent, reference)
    outcome, eff, extra = support_test(scenario, agent, reference, n=n, digest=digest)
    extra["reference_n"] = len(reference)
    if is_paper_preset(preset):
        extra["stochbox_test"] = {"test": outcome.test, "statistic": outcome.statistic, "pvalue": outcome.pvalue}
        outcome = paper_test(scenario, agent, reference, preset, rng=_rng(scenario, preset.name, n, digest))
        extra.update(outcome.extra)
        passed = passes(outcome.pvalue, preset)
        reason = None if passed else f"KS p = {outcome.pvalue:.3g} <= {preset.alpha:g}"
    else:
        extra.update(outcome.extra)
        test_ok = passes(outcome.pvalue, preset)
        passed = test_ok and n_valid == n
        if n_valid < n:
            reason = f"fewer than N valid samples ({n_valid}/{n})"
        elif not test_ok:
            reason = f"{outcome.test} p = {outcome.pvalue:.3g} < alpha {preset.alpha:g}"
        else:
            reason = None
    return ScenarioTestResult(
        **base,
        test=outcome.test,
        statistic=outcome.statistic,
        pvalue=outcome.pvalue,
        passed=passed,
        effect=eff,
        reason=reason,
        extra=extra,
    )
