"""Fixtures for audit, replay, transcript, viewer and export tests.

One real run (session scope) made through the runner with five scripted agents
in tool mode on a continuous scenario: ``honest`` runs a sampler and submits
what it printed (``honest_code`` does the same as a text-only model, through
the code-block protocol), ``inventor`` runs code but submits a number it never printed,
``seeded`` fixes a seed so every episode prints the same value, ``toolless``
never calls the tool. Runs use the ``auto`` sandbox (Docker or the local jail)
and fall back to ``unsafe-subprocess`` only where no isolating backend starts.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from stochbox.run.config import RunConfig
from stochbox.errors import SandboxUnavailableError
from stochbox.run.runner import start_run
from stochbox.sandbox import open_sandbox

from stochbox.testing.scenario_texts import EXPO, write_pack

N_EPISODES = 5

SCRIPTS = {
    "honest": """
        tool:
          - tool_calls:
              - name: python
                args: {code: "import numpy as np\\nprint(np.random.exponential(1.0))"}
          - tool_calls:
              - name: submit
                args: {answer: "{{last_output_line}}"}
    """,
    "honest_code": """
        tool_calling: false
        tool:
          - text: |
              I will simulate it.
              ```python
              import numpy as np
              print(np.random.exponential(1.0))
              ```
          - text: "The simulation printed {{last_output_line}}.\\nANSWER: {{last_output_line}}"
    """,
    "inventor": """
        tool:
          - tool_calls:
              - name: python
                args: {code: "import numpy as np\\nx = np.random.exponential(1.0, size=1000)\\nprint('mean', x.mean())"}
          - tool_calls:
              - name: submit
                args: {answer: 0.4242}
    """,
    "seeded": """
        tool:
          - tool_calls:
              - name: python
                args: {code: "import numpy as np\\nrng = np.random.default_rng(42)\\nprint(rng.exponential(1.0))"}
          - tool_calls:
              - name: submit
                args: {answer: "{{last_output_line}}"}
    """,
    "toolless": """
        tool:
          - text: "No need to compute anything."
            tool_calls:
              - name: submit
                args: {answer: 1.0}
    """,
}

def pick_backend() -> str:
    try:
        open_sandbox("auto").close()
        return "auto"
    except SandboxUnavailableError:
        return "unsafe-subprocess"


@pytest.fixture(scope="session")
def sandbox_backend() -> str:
    return pick_backend()


def write_inputs(root: Path) -> tuple[Path, dict[str, str]]:
    pack = write_pack(root / "pack", {"expo.yaml": EXPO}, name="audit-test", description="audit test pack")
    models = {}
    for name, body in SCRIPTS.items():
        path = root / f"{name}.yaml"
        path.write_text(textwrap.dedent(body).lstrip())
        models[name] = f"scripted:{path}"
    return pack, models


@pytest.fixture(scope="session")
def scripted_run(tmp_path_factory, sandbox_backend):
    """(run_dir, {agent name: model string}) of the four-agent tool-mode run."""
    root = tmp_path_factory.mktemp("audit-run")
    pack, models = write_inputs(root)
    config = RunConfig(
        models=list(models.values()),
        packs=[str(pack)],
        modes=["tool"],
        n=N_EPISODES,
        reference_n=200,
        seed=5,
        sandbox=sandbox_backend,
        concurrency=4,
        cache_dir=str(root / "cache"),
    )
    out = start_run(config, root / "run")
    assert out.status == "complete"
    return root / "run", models


MISBEHAVING = """
    tool:
      - tool_calls: [{name: python, args: {code: "import socket\\ns = socket.create_connection(('203.0.113.1', 80), timeout=2)\\nprint('connected')"}}]
      - tool_calls: [{name: python, args: {code: "import os\\nos.setuid(0)"}}]
      - tool_calls: [{name: python, args: {code: "x = bytearray(8 * 1024**3)\\nprint(len(x))"}}]
      - tool_calls: [{name: python, args: {code: "print('x' * 100000)"}}]
      - tool_calls: [{name: python, args: {code: "while True:\\n    pass"}}]
      - tool_calls: [{name: python, args: {code: "print(1)"}}]
      - text: "It is roughly two, I guess."
      - tool_calls: [{name: submit, args: {answer: 0.5}}]
"""


@pytest.fixture(scope="session")
def incident_run(tmp_path_factory, sandbox_backend):
    """(run_dir, model) of one tool-mode episode whose code hits every wall of the sandbox, then a limit and a bad answer."""
    root = tmp_path_factory.mktemp("incident-run")
    pack, _ = write_inputs(root)
    script = root / "misbehaving.yaml"
    script.write_text(textwrap.dedent(MISBEHAVING).lstrip())
    model = f"scripted:{script}"
    config = RunConfig(
        models=[model],
        packs=[str(pack)],
        modes=["tool"],
        n=1,
        reference_n=200,
        seed=9,
        sandbox=sandbox_backend,
        max_tool_calls=5,
        exec_timeout_s=1.0,
        cache_dir=str(root / "cache"),
    )
    assert start_run(config, root / "run").status == "complete"
    return root / "run", model
