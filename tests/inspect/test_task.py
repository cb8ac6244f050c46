"""``inspect eval stochbox/sampling`` with an offline model: Inspect's ``mockllm/model``.

The mock answers from the prompt it gets: a fair die roll for ``die-roll``
(drawn from a seeded generator) and always ``sun`` for ``weather-categorical``
(a collapsed sampler). Usage is set on every output: mockllm's default usage
counts tokens with a tokenizer it would download. The scores are checked
against stochbox's evaluator applied directly to the samples in the log.
"""

from __future__ import annotations

import random

import pytest

SCENARIOS = ["die-roll", "weather-categorical"]
N = 20


def _usage(output):
    from inspect_ai.model import ModelUsage

    output.usage = ModelUsage(input_tokens=50, output_tokens=4, total_tokens=54)
    return output


def native_model(seed: int = 3):
    from inspect_ai.model import ModelOutput, get_model

    rng = random.Random(seed)

    def answer(input, tools, tool_choice, config):
        prompt = input[-1].text
        text = f"I rolled it.\nANSWER: {rng.randint(1, 6)}" if "six-sided die" in prompt else "ANSWER: sun"
        return _usage(ModelOutput.from_content(model="mockllm/model", content=text))

    return get_model("mockllm/model", custom_outputs=answer)


def test_inspect_eval_by_registry_name_gives_ks_at_n_with_stochbox_statistics(tmp_path, sandbox_backend):
    from inspect_ai import eval as inspect_eval

    from stochbox.evaluators import evaluate_scenario, get_preset
    from stochbox.reference.cache import ReferenceCache
    from stochbox.scenarios import resolve_packs, select_scenarios

    # by name, as `inspect eval stochbox/sampling` does: found through the inspect_ai entry point
    log = inspect_eval(
        "stochbox/sampling",
        task_args={"pack": "canonical", "scenarios": ",".join(SCENARIOS), "n": N, "backend": sandbox_backend},
        model=native_model(),
        log_dir=str(tmp_path),
        display="none",
    )[0]
    assert log.status == "success", log.error
    assert log.eval.task == "stochbox/sampling"
    assert len(log.samples) == N * len(SCENARIOS)
    assert {s.id for s in log.samples} == {f"{sc}/{i}" for sc in SCENARIOS for i in range(N)}
    metrics = {k: m.value for k, m in log.results.scores[0].metrics.items()}

    # independent recomputation: the samples as the log has them, the reference from the truth cache
    scenarios = {s.id: s for s in select_scenarios(resolve_packs(["canonical"]), SCENARIOS)}
    cache = ReferenceCache()
    by_scenario = {sc: [None] * N for sc in SCENARIOS}
    for s in log.samples:
        score = s.scores["sample_answer"]
        assert score.value == 1.0  # every answer parsed
        by_scenario[s.metadata["scenario"]][s.metadata["index"]] = score.metadata["sample"]
    assert set(by_scenario["weather-categorical"]) == {"sun"}
    assert set(by_scenario["die-roll"]) <= {1, 2, 3, 4, 5, 6} and len(set(by_scenario["die-roll"])) > 3
    results = {}
    for sc_id, samples in by_scenario.items():
        reference = cache.load(cache.ref(scenarios[sc_id], 10_000, 0).key)
        assert reference is not None  # the metric filled the cache with the run's reference key
        results[sc_id] = evaluate_scenario(
            scenarios[sc_id], samples, reference, model="x", mode="native", preset=get_preset("stochbox")
        )
    assert results["die-roll"].passed and not results["weather-categorical"].passed
    assert metrics["ks_at_n"] == 0.5 and metrics["passed"] == 1 and metrics["scenarios"] == 2
    assert metrics["parse_rate"] == 1.0
    assert metrics["ci_low"] < 0.5 < metrics["ci_high"]
    for sc_id, r in results.items():
        assert metrics[f"p:{sc_id}"] == pytest.approx(r.pvalue, rel=1e-3, abs=1e-4)


def test_preset_and_alpha_are_task_parameters(tmp_path, sandbox_backend):
    from inspect_ai import eval as inspect_eval

    from stochbox.evaluators import evaluate_scenario, get_preset
    from stochbox.inspect import sampling
    from stochbox.reference.cache import ReferenceCache
    from stochbox.scenarios import resolve_packs, select_scenarios

    def run(**args):
        task = sampling(pack="canonical", scenarios=",".join(SCENARIOS), n=N, backend=sandbox_backend, **args)
        log = inspect_eval(task, model=native_model(), log_dir=str(tmp_path), display="none")[0]
        assert log.status == "success", log.error
        return log, {k: m.value for k, m in log.results.scores[0].metrics.items()}

    # the paper's rule: KS on the answers' numeric codes, pass when p > 1e-4
    log, metrics = run(preset="unpredictabench")
    scenarios = {s.id: s for s in select_scenarios(resolve_packs(["canonical"]), SCENARIOS)}
    cache = ReferenceCache()
    passed = 0
    for sc_id, sc in scenarios.items():
        samples = [None] * N
        for s in log.samples:
            if s.metadata["scenario"] == sc_id:
                samples[s.metadata["index"]] = s.scores["sample_answer"].metadata["sample"]
        expected = evaluate_scenario(
            sc, samples, cache.load(cache.ref(sc, 10_000, 0).key), model="x", mode="native", preset=get_preset("unpredictabench")
        )
        assert expected.test == "ks_2samp_codes"
        assert metrics[f"p:{sc_id}"] == pytest.approx(expected.pvalue, rel=1e-3, abs=1e-6)
        passed += expected.passed
    assert metrics["passed"] == passed
    # alpha: the fair die's p-value is below 0.99, so at alpha 0.99 nothing passes
    _, strict = run(alpha=0.99)
    assert strict["p:die-roll"] < 0.99 and strict["ks_at_n"] == 0.0


def test_bad_task_arguments_fail_before_any_model_call():
    from stochbox.errors import ConfigError, UnknownScenarioError
    from stochbox.inspect import sampling

    with pytest.raises(ConfigError, match="mode"):
        sampling(mode="both")
    with pytest.raises(ConfigError, match="preset"):
        sampling(preset="lenient")
    with pytest.raises(UnknownScenarioError):
        sampling(scenarios="no-such-scenario")


def test_tool_mode_runs_the_models_code_in_the_stochbox_sandbox(tmp_path, jail_backend):
    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import ChatMessageTool, ModelOutput, get_model

    from stochbox.inspect import sampling
    from stochbox.sandbox import open_sandbox
    from stochbox.seeding import derive_seed

    code = "import random\nprint(random.randint(1, 6))"

    def answer(input, tools, tool_choice, config):
        assert {t.name for t in tools} == {"python", "submit"}
        last = input[-1]
        if isinstance(last, ChatMessageTool) and last.function == "python":
            out = ModelOutput.for_tool_call("mockllm/model", "submit", {"answer": int(last.text.strip())})
        else:
            out = ModelOutput.for_tool_call("mockllm/model", "python", {"code": code})
        return _usage(out)

    n = 6
    task = sampling(pack="canonical", scenarios="die-roll", n=n, mode="tool", backend=jail_backend)
    log = inspect_eval(task, model=get_model("mockllm/model", custom_outputs=answer), log_dir=str(tmp_path), display="none")[0]
    assert log.status == "success", log.error
    assert log.eval.sandbox.type == "stochbox"
    submitted = {s.metadata["index"]: s.scores["sample_answer"].metadata["sample"] for s in log.samples}
    seeds = {s.metadata["index"]: s.metadata["episode_seed"] for s in log.samples}
    for s in log.samples:
        kinds = [e.event for e in s.events]
        assert "sandbox" in kinds and kinds.count("tool") == 2
    # the execution seed is stochbox's: derive_seed(episode seed, "exec", 0); the same code and seed in a
    # fresh jail print what each episode submitted
    with open_sandbox(jail_backend) as sb:
        for index, seed in seeds.items():
            again = sb.execute(code, seed=derive_seed(seed, "exec", 0))
            assert int(again.stdout) == submitted[index]
    metrics = {k: m.value for k, m in log.results.scores[0].metrics.items()}
    assert metrics["parse_rate"] == 1.0 and metrics["scenarios"] == 1
