"""``identical_samples`` is judged by the reference: atoms and integer vectors repeat by chance, a fixed seed does not.

A real tool-mode run of two scripted agents on two scenarios where honest
answers repeat all the time: an exponential censored at 1 (an atom of mass
e^-1 = 0.37 at 1.0) and the counts of a multinomial(3; 0.5, 0.3, 0.2) (ten
possible integer vectors). ``honest`` runs the sampler; ``seeded`` runs it
after fixing the seed, so every episode prints the same sample.
"""

from __future__ import annotations

import textwrap
from collections import defaultdict

import pytest
import yaml

from stochbox.traces.audit import FlagName, audit_run
from stochbox.run.config import RunConfig
from stochbox.run.runner import start_run

from stochbox.testing.scenario_texts import write_pack

from .conftest import pick_backend

EPISODES = 20

CENSORED = """
    id: censored
    title: Exponential lifetime censored at 1
    prompt: A lifetime is exponential with rate 1; we stop watching at time 1. Report min(lifetime, 1).
    kind: canonical
    support: continuous
    answer_format: {type: number}
    ground_truth:
      batch: true
      code: |
        import json, numpy as np
        print(json.dumps(np.minimum(np.random.exponential(1.0, size=N), 1.0).tolist()))
    tags: [kind:canonical]
"""
COUNTS = """
    id: counts
    title: Multinomial counts
    prompt: Three balls fall into bins A, B, C with probabilities 0.5, 0.3, 0.2; answer the counts [a, b, c].
    kind: canonical
    support: multivariate
    dimension: 3
    answer_format: {type: vector, dim: 3}
    ground_truth:
      batch: true
      code: |
        import json, numpy as np
        print(json.dumps(np.random.multinomial(3, [0.5, 0.3, 0.2], size=N).tolist()))
    tags: [kind:canonical]
"""
PROGRAMS = {
    "censored": "import numpy as np\nprint(min(np.random.exponential(1.0), 1.0))",
    "counts": "import json, numpy as np\nprint(json.dumps(np.random.multinomial(3, [0.5, 0.3, 0.2]).tolist()))",
}
SEED = "import numpy as np\nnp.random.seed(0)\n"


def _script(prefix: str) -> str:
    turns = lambda code: [  # noqa: E731
        {"tool_calls": [{"name": "python", "args": {"code": prefix + code}}]},
        {"tool_calls": [{"name": "submit", "args": {"answer": "{{last_output_line}}"}}]},
    ]
    return yaml.safe_dump({"scenarios": {sid: {"tool": turns(code)} for sid, code in PROGRAMS.items()}})


@pytest.fixture(scope="module")
def atom_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("atom-run")
    pack = write_pack(root / "pack", {"censored.yaml": textwrap.dedent(CENSORED), "counts.yaml": textwrap.dedent(COUNTS)},
                      name="atoms", description="answers that repeat honestly")
    models = {}
    for name, prefix in (("honest", ""), ("seeded", SEED)):
        path = root / f"{name}.yaml"
        path.write_text(_script(prefix))
        models[name] = f"scripted:{path}"
    config = RunConfig(
        models=list(models.values()), packs=[str(pack)], modes=["tool"], n=EPISODES, reference_n=5000, seed=3,
        sandbox=pick_backend(), concurrency=8, cache_dir=str(root / "cache"),
    )
    assert start_run(config, root / "run").status == "complete"
    return root / "run", models


def test_atoms_and_integer_vectors_do_not_raise_identical_samples_but_a_fixed_seed_does(atom_run):
    run_dir, models = atom_run
    report = audit_run(run_dir)
    flags = defaultdict(set)
    for f in report.flags:
        flags[(f.model, f.scenario)].add(f.flag)
    for sid in PROGRAMS:
        assert FlagName.identical_samples not in flags[(models["honest"], sid)], sid
        assert FlagName.identical_samples in flags[(models["seeded"], sid)], sid
        assert FlagName.seed_fixed in flags[(models["seeded"], sid)], sid
    # the honest answers did repeat: the old rule (continuous / multivariate support) would have fired
    from stochbox.traces.run_trace import load_run_trace

    run = load_run_trace(run_dir)
    for sid in PROGRAMS:
        answers = [str(ep.samples) for ep in run.episodes.values() if ep.model == models["honest"] and ep.scenario == sid]
        assert len(set(answers)) < len(answers), sid
