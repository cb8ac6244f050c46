"""The UnpredictaBench paper's scoring rules, for numbers comparable with the paper's.

Three presets (see docs/statistics.md, "Presets", for which published
numbers each reproduces):

* ``unpredictabench`` -- the paper's current rule (UnpredictaBenchCode
  revision :data:`PAPER_REVISION`, notebooks ``get_results_acc.ipynb``,
  ``get_results_acc_realworld.ipynb``, ``get_results_acc_shuffling.ipynb``):

  - the first N *valid* values of the run (not the first N slots), see
    :func:`slots_at_n` (v1 does the same);
  - answers on a finite support -- discrete targets (the paper's
    ``Discrete_distributions``), labels outside the paper's code tasks
    (its realworld notebook) and orderings (its shuffling notebook) -- get
    the KS statistic with the count-based permutation null. The paper draws
    B = 10^6 multivariate hypergeometric allocations and reports
    ``(b + 1) / (B + 1)``; this preset uses its exact limit,
    :func:`.smirnov.ks_exact` (test ``ks_exact_codes``);
  - everything else gets ``scipy.stats.ks_2samp(method="exact")``
    (test ``ks_2samp_exact_codes``);
  - pass when p > 1e-4.

* ``unpredictabench-mc`` -- the same rule with the paper's Monte Carlo
  (10^6 draws, test ``ks_perm_mc_codes``), for its exact numbers up to
  Monte-Carlo noise (the paper draws from one shared stream seeded
  20240521; stochbox seeds each test from its inputs, so individual draws
  differ).

* ``unpredictabench-v1`` -- the paper's earlier rule (revision
  :data:`V1_REVISION` of ``get_results_acc.ipynb``): scipy's continuous
  ``ks_2samp(method="auto")`` on the codes of the first N valid values for
  every support, orderings encoded by their full Lehmer rank (stochbox's
  earlier encoding; test ``ks_2samp_codes``).

Encodings (the notebooks'): numbers as themselves; labels as their index in
the scenario's declared ``labels`` (an importer orders them as the paper's
``realworld_mapping.json`` maps them); orderings, in the current rule, as
the first digit of their Lehmer code relative to the first reference
ordering (the index, in that ordering, of the item placed first); vectors
flattened (the notebooks score scalars; stochbox's choice).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from stochbox.evaluators import ks
from stochbox.evaluators.models import Preset
from stochbox.evaluators.outcome import TestOutcome
from stochbox.evaluators.presets import PAPER_PRESETS, UNPREDICTABENCH_MC, UNPREDICTABENCH_V1
from stochbox.evaluators.smirnov import ks_exact
from stochbox.scenarios.models import AnswerFormat, AnswerType, Scenario, Support
from stochbox.scenarios.samples import coerce_sample

PAPER_REVISION = "e0f7108"
V1_REVISION = "ce3abda"
PAPER_DRAWS = 10**6
#: Tag prefix of the paper's code tasks, where labels (its Non_numeric targets) are not count-routed.
CODE_TASK_TAG = "group:code_"


def is_paper_preset(preset: Preset) -> bool:
    return preset.name in PAPER_PRESETS


def _is_valid(sample: Any, fmt: AnswerFormat) -> bool:
    if sample is None:
        return False
    try:
        coerce_sample(sample, fmt)
    except ValueError:
        return False
    return True


def slots_at_n(samples: Sequence[Any | None], n: int, scenario: Scenario, preset: Preset) -> list[Any | None]:
    """The N sample slots a preset scores, from a scenario's full episode-ordered samples.

    The paper's rules score the first N *valid* values (padded with ``None``
    when the run has fewer); the ``stochbox`` preset the first N slots.
    """
    if preset.name not in PAPER_PRESETS:
        return list(samples[:n])
    valid = []
    for s in samples:
        if len(valid) == n:
            break
        if _is_valid(s, scenario.answer_format):
            valid.append(s)
    return valid + [None] * (n - len(valid))


def count_routed(scenario: Scenario) -> bool:
    """True when the current rule gives the scenario the count-based permutation KS."""
    if scenario.support in (Support.discrete, Support.permutation):
        return True
    if scenario.support is Support.categorical:
        return not any(t.startswith(CODE_TASK_TAG) for t in scenario.tags)
    return False


def _item_key(x: Any) -> Any:
    if isinstance(x, bool):
        return str(x)
    if isinstance(x, (int, float)):
        return float(x)
    return str(x).strip()


def lehmer_rank(order: Sequence[Any], items: Sequence[Any]) -> int:
    """Rank of ``order`` among all orderings of ``items`` (lexicographic by item position)."""
    pos = {_item_key(x): i for i, x in enumerate(items)}
    idx = [pos[_item_key(x)] for x in order]
    k = len(idx)
    return sum(sum(1 for j in idx[i + 1 :] if j < idx[i]) * math.factorial(k - 1 - i) for i in range(k))


def lehmer_first_digit(order: Sequence[Any], items: Sequence[Any]) -> int:
    """First Lehmer digit of ``order`` relative to ``items``: #{later items that come before the first one in ``items``}."""
    pos = {_item_key(x): i for i, x in enumerate(items)}
    idx = [pos[_item_key(x)] for x in order]
    return sum(1 for j in idx[1:] if j < idx[0])


def _per_distinct_order(orders: Sequence[Sequence[Any]], code: Callable[[Sequence[Any]], int]) -> np.ndarray:
    """``code`` of every order, computed once per distinct order (at most k! of them among 10,000 references)."""
    seen: dict[tuple, int] = {}
    out = np.empty(len(orders), dtype=np.float64)
    for i, order in enumerate(orders):
        key = tuple(map(_item_key, order))
        value = seen.get(key)
        if value is None:
            value = seen[key] = code(order)
        out[i] = value
    return out


def codes(values: list[Any], fmt: AnswerFormat, *, version: str, first_reference: Any = None) -> np.ndarray:
    """The paper's numeric encoding of valid answers (``version``: ``"current"`` or ``"v1"``)."""
    t = fmt.type
    if t in (AnswerType.number, AnswerType.integer):
        return np.asarray(values, dtype=np.float64)
    if t is AnswerType.label:
        labels = fmt.labels or []
        return np.asarray([labels.index(v) for v in values], dtype=np.float64)
    if t is AnswerType.list:
        if version == "v1":
            return _per_distinct_order(values, lambda v: lehmer_rank(v, fmt.items or []))
        order = first_reference if first_reference is not None else (fmt.items or [])
        return _per_distinct_order(values, lambda v: lehmer_first_digit(v, order))
    return np.asarray(values, dtype=np.float64).reshape(-1)


def paper_test(
    scenario: Scenario, agent: list[Any], reference: list[Any], preset: Preset, *, rng: np.random.Generator
) -> TestOutcome:
    """The preset's test on the codes of the valid agent answers against the reference."""
    fmt = scenario.answer_format
    if preset.name == UNPREDICTABENCH_V1:
        res = stats.ks_2samp(codes(agent, fmt, version="v1"), codes(reference, fmt, version="v1"), method="auto")
        return TestOutcome("ks_2samp_codes", float(res.statistic), float(res.pvalue), {"rule": f"UnpredictaBench {V1_REVISION}"})
    first = reference[0] if reference else None
    a = codes(agent, fmt, version="current", first_reference=first)
    r = codes(reference, fmt, version="current", first_reference=first)
    extra: dict[str, Any] = {"rule": f"UnpredictaBench {PAPER_REVISION}"}
    if not count_routed(scenario):
        res = stats.ks_2samp(r, a, method="exact")
        return TestOutcome("ks_2samp_exact_codes", float(res.statistic), float(res.pvalue), extra)
    if preset.name == UNPREDICTABENCH_MC:
        out = ks.ks_discrete_mc(a, r, draws=PAPER_DRAWS, rng=rng)
        return TestOutcome("ks_perm_mc_codes", out.statistic, out.pvalue, {**extra, **out.extra})
    res = ks_exact(a, r)
    return TestOutcome(
        "ks_exact_codes", res.statistic, res.pvalue, {**extra, "null": "exact limit of the paper's permutation Monte Carlo"}
    )
