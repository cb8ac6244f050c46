"""Checks specific to the ``programs`` pack: the program shown is the program that defines the truth.

The library-wide checks (validation, sandbox runs, determinism, output
format) live in ``test_scenario_library.py``. Here:

* each prompt shows exactly one fenced Python program, unseeded, and says what
  one answer looks like;
* for ``batch: false`` scenarios the ground truth *is* that program (or the
  same program printing its word as a JSON string, for label outputs);
* what the shown program itself prints is a valid answer, so a model that
  copies its output format is parsed correctly;
* for ``batch: true`` scenarios (vectorised for speed) the shown program and
  the ground truth agree in distribution: 3,000 draws of each pass a
  two-sample test at ``ALPHA`` (fixed seeds, so the outcome never changes).

The programs run in :class:`UnsafeSubprocessSandbox` on purpose: they are this
pack's own reviewed code, never model output, and Debian's ``/usr/bin/python3``
(where present) is the runtime the real sandbox image uses.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections import Counter

import numpy as np
import pytest
from scipy import stats

from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox
from stochbox.scenarios import Kind, Scenario, Support, get_pack
from stochbox.scenarios.samples import coerce_sample
from stochbox.seeding import derive_seed
from stochbox.reference.truth import generate_samples

ALPHA = 1e-3
N_EQUIV = 3000
PACK = get_pack("programs")
SCENARIOS = [pytest.param(sc, id=sc.id) for sc in PACK.scenarios]
BATCH = [p for p in SCENARIOS if p.values[0].ground_truth.batch]
_FENCE = re.compile(r"```python\n(.*?)\n```", re.S)


def shown_program(sc: Scenario) -> str:
    blocks = _FENCE.findall(sc.prompt)
    assert len(blocks) == 1, f"{sc.id}: the prompt must show exactly one ```python block, found {len(blocks)}"
    return blocks[0]


def as_literal(sc: Scenario) -> Scenario:
    """The scenario with the shown program itself as a one-sample ground truth."""
    program = shown_program(sc)
    if sc.support is Support.categorical:  # label programs print a bare word; the contract wants JSON
        program = _json_last_line(program)
    gt = sc.ground_truth.model_copy(update={"batch": False, "code": program})
    return sc.model_copy(update={"ground_truth": gt})


def _json_last_line(program: str) -> str:
    *body, last = program.rstrip("\n").split("\n")
    assert last.startswith("print(") and last.endswith(")"), f"last line must be print(...): {last!r}"
    return "\n".join(["import json", *body, f"print(json.dumps({last[len('print('):-1]}))"]) + "\n"


@pytest.fixture(scope="module")
def sandbox():
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
    sb = UnsafeSubprocessSandbox(python=python)
    yield sb
    sb.close()


# ---------------------------------------------------------------- the pack as a whole


def test_pack_has_at_least_fifty_programs_with_prefixed_ids() -> None:
    ids = [sc.id for sc in PACK.scenarios]
    assert len(ids) >= 50
    assert len(set(ids)) == len(ids)
    assert all(i.startswith("prog-") for i in ids)
    assert all(sc.kind is Kind.program for sc in PACK.scenarios)


def test_pack_mixes_supports_with_integers_the_most_common() -> None:
    counts = Counter(sc.support for sc in PACK.scenarios)
    assert all(counts[s] >= 4 for s in Support), counts
    assert counts.most_common(1)[0][0] is Support.discrete


# ---------------------------------------------------------------- each scenario


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_tags_name_kind_family_support_process_and_wording(scenario: Scenario) -> None:
    tags = set(scenario.tags)
    assert {"kind:program", f"support:{scenario.support.value}", "wording:explicit"} <= tags
    for key in ("family", "process", "difficulty"):
        assert sum(t.startswith(f"{key}:") for t in tags) == 1, f"exactly one {key}: tag"


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_prompt_shows_one_unseeded_program_and_the_answer_format(scenario: Scenario) -> None:
    program = shown_program(scenario)
    assert re.search(r"^import .*\b(random|numpy)\b", program, re.M), "the program must use random or numpy"
    assert "seed" not in program, "shown programs must be unseeded"
    assert "Answer with" in scenario.prompt.split("```")[-1], "say what one answer looks like, after the program"


@pytest.mark.parametrize("scenario", [p for p in SCENARIOS if p not in BATCH])
def test_non_batch_ground_truth_is_the_shown_program(scenario: Scenario) -> None:
    program, truth = shown_program(scenario).strip(), scenario.ground_truth.code.strip()
    if scenario.support is Support.categorical:
        assert truth == _json_last_line(program).strip()
    else:
        assert truth == program


@pytest.mark.parametrize("scenario", BATCH)
def test_batch_scenarios_say_why_the_vectorised_truth_is_equivalent(scenario: Scenario) -> None:
    assert scenario.notes and "vectorised" in scenario.notes


def test_what_each_shown_program_prints_is_a_valid_answer(sandbox) -> None:
    """Run every shown program once, in one sandbox execution, and parse its last line as an answer."""
    runner = (
        "import contextlib, io, json\n"
        "out = []\n"
        "for src in PROGRAMS:\n"
        "    buf = io.StringIO()\n"
        "    with contextlib.redirect_stdout(buf):\n"
        "        exec(compile(src, '<shown>', 'exec'), {'__name__': '__main__'})\n"
        "    out.append([l for l in buf.getvalue().splitlines() if l.strip()][-1])\n"
        "print(json.dumps(out))\n"
    )
    programs = [shown_program(sc) for sc in PACK.scenarios]
    res = sandbox.execute(runner, timeout_s=60, seed=derive_seed("programs-pack", "shown"),
                          output_cap=1 << 20, globals_={"PROGRAMS": programs})
    assert res.ok, res.stderr[-2000:]
    printed = json.loads(res.stdout.strip().splitlines()[-1])
    bad = []
    for sc, line in zip(PACK.scenarios, printed, strict=True):
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = line  # a bare word, as label programs print it
        try:
            coerce_sample(value, sc.answer_format)
        except ValueError as exc:
            bad.append(f"{sc.id}: printed {line!r}: {exc}")
    assert not bad, "\n".join(bad)


def same_distribution_pvalue(a: list, b: list, support: Support) -> float:
    """Chi-square on pooled value counts for integers, two-sample KS for real numbers."""
    if support is Support.continuous:
        return stats.ks_2samp(a, b).pvalue
    values = sorted(set(a) | set(b))
    table = np.array([[Counter(a)[v] for v in values], [Counter(b)[v] for v in values]])
    # merge adjacent values until each column holds >= 10 draws (expected >= 5 per cell);
    # a leftover joins the last column
    keep, pooled = [], np.zeros(2, dtype=int)
    for col in table.T:
        pooled += col
        if pooled.sum() >= 10:
            keep.append(pooled.copy())
            pooled[:] = 0
    if pooled.sum():
        keep[-1] += pooled
    return stats.chi2_contingency(np.array(keep).T).pvalue


@pytest.mark.parametrize("scenario", BATCH)
def test_vectorised_truth_matches_the_shown_program(scenario: Scenario, sandbox) -> None:
    assert scenario.support in (Support.discrete, Support.continuous), "extend the comparison for this support"
    seed = derive_seed("programs-pack", scenario.id)
    literal = generate_samples(as_literal(scenario), N_EQUIV, seed, sandbox)
    truth = generate_samples(scenario, N_EQUIV, seed + 1, sandbox)
    assert same_distribution_pvalue(literal, truth, scenario.support) > ALPHA
    # the same comparison sees a shift of one unit, so the check above has power
    assert same_distribution_pvalue(literal, [x + 1 for x in truth], scenario.support) < ALPHA
