"""The scripted sampler passes the two-sample test in tool mode; a scripted constant fails natively.

Batch protocol (one episode asks for N = 100 samples) keeps this fast; the
independent protocol is covered by the demo in examples/scripted/.
"""

from __future__ import annotations

import json

import numpy as np
from scipy import stats

from stochbox.agents.llm import make_llm_agent
from stochbox.results import EpisodeStatus, Mode
from stochbox.seeding import derive_seed
from stochbox.reference.truth import generate_samples

N = 100
SAMPLER = "import json, numpy as np\nprint(json.dumps(np.random.normal(10, 2, size=100).tolist()))"


def test_sampler_in_tool_mode_passes_and_constant_in_native_mode_fails(tmp_path, episode, canonical, unsafe_sandbox):
    scenario = canonical["normal-explicit"]
    script = tmp_path / "normal.yaml"
    script.write_text(json.dumps({
        "native": [{"text": "ANSWER: " + json.dumps([10.0] * N)}],
        "tool": [
            {"tool_calls": [{"name": "python", "args": {"code": SAMPLER}}]},
            {"tool_calls": [{"name": "submit", "args": {"samples": "{{last_output_line}}"}}]},
        ],
    }))
    agent = make_llm_agent(f"scripted:{script}")
    reference = generate_samples(scenario, 10_000, derive_seed(0, "reference", scenario.id), unsafe_sandbox)

    tool_out, _ = episode(agent, scenario, Mode.tool, n=N, seed=derive_seed(0, "episode", scenario.id, 0))
    native_out, _ = episode(agent, scenario, Mode.native, n=N, seed=derive_seed(0, "episode", scenario.id, 0))
    assert tool_out.status is EpisodeStatus.ok and len(tool_out.samples) == N
    assert native_out.status is EpisodeStatus.ok and len(native_out.samples) == N

    tool_p = stats.ks_2samp(tool_out.samples, reference).pvalue
    native_p = stats.ks_2samp(native_out.samples, reference).pvalue
    assert tool_p > 0.05
    assert native_p < 1e-10
    assert abs(np.mean(tool_out.samples) - 10) < 4 * 2 / np.sqrt(N)
