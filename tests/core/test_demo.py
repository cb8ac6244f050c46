"""``stochbox demo``: short, self-explaining output; the model beside the two bounds; report and viewer written."""

from __future__ import annotations

import textwrap

from stochbox.cli import main

SCRIPT = """
    native:
      - text: "ANSWER: 3"
    tool:
      - tool_calls: [{name: python, args: {code: "import random\\nprint(random.randint(1, 6))"}}]
      - tool_calls: [{name: submit, args: {answer: "{{last_output_line}}"}}]
"""


def test_demo_prints_the_model_beside_oracle_and_constant_in_under_30_lines(capsys, tmp_path, sandbox_backend):
    script = tmp_path / "die.yaml"
    script.write_text(textwrap.dedent(SCRIPT).lstrip())
    out = tmp_path / "demo"
    try:
        main(["demo", "--model", f"scripted:{script}", "--scenario", "die-roll", "--n", "12", "--out", str(out),
              "--sandbox", sandbox_backend])
    except SystemExit as exc:
        assert not exc.code
    printed = capsys.readouterr().out
    lines = printed.rstrip("\n").splitlines()
    assert len(lines) < 30, printed
    rows = {line.split("  ")[0].strip(): line for line in lines if line.startswith(("scripted:", "oracle (", "constant ("))}
    assert set(rows) == {f"scripted:{script} native", f"scripted:{script} tool", "oracle (upper bound)", "constant (lower bound)"}
    # a constant answer fails, the model's own sampler passes like the oracle (deterministic: seed 0)
    assert "0/1" in rows[f"scripted:{script} native"] and "fail" in rows["constant (lower bound)"]
    assert "1/1" in rows[f"scripted:{script} tool"] and "1/1" in rows["oracle (upper bound)"]
    assert "KS@N: share of scenarios" in printed and "McNemar exact p" in printed
    assert (out / "report.html").is_file() and (out / "trace.html").is_file()
    assert f"report: {out / 'report.html'}" in printed and f"traces: {out / 'trace.html'}" in printed
    assert "next, a real provider:" in printed
    # the long tables only on request
    assert "per scenario" not in printed and "by kind, support and tag" not in printed
