"""``repeat_program``: one execution runs a one-sample program many times (ground truth strict, agent programs tolerant)."""

from __future__ import annotations

import json

from stochbox.reference.truth import repeat_program

LOW_RAISES = "import random\nx = random.random()\nif x < 0.5:\n    raise ValueError('low')\nprint('noise ' * 20)\nprint(x)\n"
EXITS_3 = "import random, sys\nprint(random.randint(1, 6))\nsys.exit(3)\n"


def _run(sandbox, code_and_globals, seed=11):
    code, globals_ = code_and_globals
    return sandbox.execute(code, timeout_s=30, seed=seed, globals_=globals_)


def test_strict_prints_the_last_line_of_each_run_with_the_random_state_continuing(sandbox):
    res = _run(sandbox, repeat_program("import random\nprint('noise')\nprint(random.random())", 50))
    values = json.loads(res.stdout)
    assert res.ok and len(values) == 50 and len(set(values)) == 50
    assert _run(sandbox, repeat_program("import random\nprint(random.random())", 50)).stdout == res.stdout


def test_strict_fails_the_execution_on_a_raising_or_non_zero_run(sandbox):
    raised = _run(sandbox, repeat_program(LOW_RAISES, 20))
    assert raised.exit_code != 0 and raised.stdout == "" and "ValueError: low" in raised.stderr
    assert '"<ground_truth>"' in raised.stderr
    exited = _run(sandbox, repeat_program(EXITS_3, 5))
    assert exited.exit_code == 3 and exited.stdout == ""


def test_tolerant_counts_failing_runs_and_keeps_each_output_tail(sandbox):
    res = _run(sandbox, repeat_program(LOW_RAISES, 40, tolerant=True, tail=30, filename="<agent_program>"))
    body = json.loads(res.stdout)
    assert res.ok and 0 < body["errors"] < 40 and len(body["outputs"]) + body["errors"] == 40
    assert body["first_error"] == "ValueError: low"
    assert all(len(out) <= 30 and float(out.split()[-1]) >= 0.5 for out in body["outputs"])


def test_tolerant_keeps_output_of_a_non_zero_exit_and_gives_up_on_a_program_that_only_fails(sandbox):
    exited = json.loads(_run(sandbox, repeat_program(EXITS_3, 5, tolerant=True)).stdout)
    assert len(exited["outputs"]) == 5 and exited["errors"] == 0
    failing = json.loads(_run(sandbox, repeat_program("raise KeyError('k')", 100, tolerant=True)).stdout)
    assert failing == {"outputs": [], "errors": 3, "first_error": "KeyError: 'k'"}
