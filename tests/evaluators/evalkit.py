"""Helpers shared by the evaluator tests (a module of its own: test files import it by name,
which a file called ``conftest`` cannot guarantee when several test folders have one).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import yaml

WEATHER = (["sun", "cloud", "rain"], [0.5, 0.3, 0.2])
KNOWN = ("normal-explicit", "die-roll", "weather-categorical", "dirichlet-3", "shuffle-abcd")


def draw(scenario_id: str, n: int, rng: np.random.Generator) -> list:
    """n samples from the true law of a canonical scenario."""
    if scenario_id == "normal-explicit":
        return rng.normal(10, 2, n).tolist()
    if scenario_id == "die-roll":
        return rng.integers(1, 7, n).tolist()
    if scenario_id == "weather-categorical":
        return rng.choice(WEATHER[0], p=WEATHER[1], size=n).tolist()
    if scenario_id == "dirichlet-3":
        return rng.dirichlet([2, 3, 5], n).tolist()
    if scenario_id == "shuffle-abcd":
        return [list(rng.permutation(list("ABCD"))) for _ in range(n)]
    raise KeyError(scenario_id)


# Tool mode runs a real program in the sandbox; normal-explicit's program is deliberately wrong (sd 3, not 2).
_PROGRAMS = {
    "normal-explicit": ("ANSWER: 10", "import numpy as np\nprint(np.random.normal(10, 3))"),
    "die-roll": ("ANSWER: 4", "import random\nprint(random.randint(1, 6))"),
    "weather-categorical": (
        "ANSWER: sun",
        "import numpy as np\nprint(np.random.choice(['sun', 'cloud', 'rain'], p=[0.5, 0.3, 0.2]))",
    ),
    "shuffle-abcd": ('ANSWER: ["A", "B", "C", "D"]', "import random, json\nx = list('ABCD')\nrandom.shuffle(x)\nprint(json.dumps(x))"),
}
SCRIPT = yaml.safe_dump(
    {
        "scenarios": {
            sid: {
                "native": [{"text": native}],
                "tool": [
                    {"tool_calls": [{"name": "python", "args": {"code": code}}]},
                    {"tool_calls": [{"name": "submit", "args": {"answer": "{{last_output_line}}"}}]},
                ],
            }
            for sid, (native, code) in _PROGRAMS.items()
        }
    }
)
SCRIPTED_SCENARIOS = ("normal-explicit", "die-roll", "weather-categorical", "shuffle-abcd")


def stochbox_cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """The real command line, in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "stochbox", *args], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


