"""Tool registry: pack tools run in the sandbox, scenario restrictions, third-party entry points."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stochbox.agents.llm import make_llm_agent
from stochbox.agents.pack_tools import PackTool, load_pack_tools, signature_model
from stochbox.agents.tools import PythonTool
from stochbox.agents.tool_sources import available_tools
from stochbox.errors import ScenarioError
from stochbox.results import EpisodeStatus, Mode
from stochbox.scenarios.loader import load_pack

SCRIPTS = Path(__file__).parent / "scripts"


def test_pack_tool_schema_comes_from_the_signature_without_importing(queues):
    tools = available_tools(queues["shop-queue-length"])
    assert list(tools) == ["python", "queue_simulator"]
    tool = tools["queue_simulator"]
    assert isinstance(tool, PackTool)
    params = tool.function_schema()["function"]["parameters"]
    assert params["required"] == ["arrival_rate", "service_rate", "until"]
    assert params["properties"]["servers"] == {
        "default": 1, "description": "number of servers working in parallel.", "title": "Servers", "type": "integer",
    }
    assert tool.code_signature().startswith("- queue_simulator(arrival_rate, service_rate, until, servers=1)")


def test_scenario_tools_field_restricts_the_offer(queues, canonical):
    assert list(available_tools(queues["shop-line-at-close"])) == ["queue_simulator"]
    assert list(available_tools(canonical["die-roll"])) == ["python"]


def test_scripted_agent_calls_the_domain_tool_and_the_call_is_traced(episode, queues):
    a = make_llm_agent(f"scripted:{SCRIPTS / 'queue_tool.yaml'}")
    out, rec = episode(a, queues["shop-queue-length"], Mode.tool, seed=3)
    assert out.status is EpisodeStatus.ok, out.reason
    calls = rec.of("tool_call")
    assert calls[0]["tool"] == "queue_simulator"
    assert calls[0]["args"] == {"arrival_rate": 2.0, "service_rate": 3.0, "until": 2.0}
    first_exec = rec.of("sandbox_exec")[0]
    assert first_exec["tool"] == "queue_simulator" and first_exec["exit_code"] == 0
    assert first_exec["globals"]["__stochbox_tool_function__"] == "queue_simulator"
    report = json.loads(rec.of("tool_result")[0]["output"])
    assert out.samples == [report["in_system"]]
    assert rec.of("model_request")[0]["tools"] == ["python", "queue_simulator", "submit"]


def test_domain_tool_errors_and_disallowed_tools_become_messages(episode, queues):
    a = make_llm_agent(f"scripted:{SCRIPTS / 'queue_tool.yaml'}")
    out, rec = episode(a, queues["shop-line-at-close"], Mode.tool)
    assert out.status is EpisodeStatus.ok and out.samples == ["yes"]
    results = rec.of("tool_result")
    assert "unknown tool 'python'" in results[0]["error"]  # the scenario allows only queue_simulator
    assert "ValueError: rates and until must be positive" in results[1]["output"]
    assert "[exit code 1]" in results[1]["output"]
    assert json.loads(results[2]["output"])["arrivals"] >= 0


def test_domain_tool_as_a_function_in_code_blocks(episode, queues):
    a = make_llm_agent(f"scripted:{SCRIPTS / 'queue_code_blocks.yaml'}")
    out, rec = episode(a, queues["shop-queue-length"], Mode.tool, seed=9)
    assert out.status is EpisodeStatus.ok, out.reason
    ex = rec.of("sandbox_exec")[0]
    assert out.samples == [int(ex["stdout"].strip())]
    assert out.tool_code[0].startswith("r = queue_simulator(")  # the model's code, without the prelude
    assert "queue_simulator(arrival_rate, service_rate, until, servers=1)" in rec.of("model_request")[0]["messages"][0]["data"]["content"]


def test_pack_tool_module_is_never_executed_in_the_host(tmp_path):
    marker = tmp_path / "host-ran-me"
    (tmp_path / "pack.yaml").write_text(
        "name: trap\nversion: '1'\ndescription: d\n"
        "tools: [{name: trap, module: trap.py, function: trap, description: d}]\n"
    )
    (tmp_path / "trap.py").write_text(
        f"open({str(marker)!r}, 'w').write('x')\n\ndef trap(n: int = 1) -> int:\n    return n\n"
    )
    tools = load_pack_tools(tmp_path)
    assert list(tools) == ["trap"] and not marker.exists()


@pytest.mark.parametrize(
    "source, message",
    [
        ("def f(x): pass", "needs a type annotation"),
        ("def f(x: dict): pass", "unsupported annotation 'dict'"),
        ("def f(*xs: int): pass", "not supported"),
        ("def g(x: int): pass", "no top-level function 'f'"),
        ("def f(x: int = len('a')): pass", "must be a literal"),
    ],
)
def test_bad_tool_signatures_name_the_problem(source, message):
    with pytest.raises(ValueError, match=message):
        signature_model(source, "f", model_name="f_args")


def test_bad_pack_tool_declaration_is_a_scenario_error(tmp_path):
    (tmp_path / "pack.yaml").write_text(
        "name: bad\nversion: '1'\ndescription: d\n"
        "tools: [{name: t, module: missing.py, function: f, description: d}]\n"
    )
    with pytest.raises(ScenarioError, match=r"pack.yaml: field 'tools.0'.*missing.py"):
        load_pack_tools(tmp_path)


def test_signature_types():
    model, _ = signature_model(
        "from typing import Literal\n"
        "def f(a: int, b: list[float], c: Literal['x', 'y'] = 'x', d: str | None = None, *, e: bool = True):\n"
        "    '''Doc.\n\n    Args:\n        a: the count.\n    '''\n",
        "f",
        model_name="f_args",
    )
    args = model(a=1, b=[0.5])
    assert args.model_dump() == {"a": 1, "b": [0.5], "c": "x", "d": None, "e": True}
    assert model.model_json_schema()["properties"]["a"]["description"] == "the count."
    with pytest.raises(ValueError):
        model(a=1, b=[0.5], c="z")


def test_unknown_tool_in_scenario_is_a_scenario_error(queues):
    bad = queues["shop-queue-length"].model_copy(update={"tools": ["python", "abacus"]})
    with pytest.raises(ScenarioError, match="unknown tool.*abacus"):
        available_tools(bad)


def test_builtin_python_tool_description_states_statelessness():
    assert "Nothing persists" in PythonTool.description


def test_example_pack_loads_and_its_truth_runs(unsafe_sandbox):
    from stochbox.reference.truth import generate_samples

    pack = load_pack(Path(__file__).resolve().parents[2] / "examples" / "tool-pack")
    for sc in pack.scenarios:
        samples = generate_samples(sc, 50, 1, unsafe_sandbox)
        assert len(samples) == 50


THIRD_PARTY_TOOL = '''
from pydantic import BaseModel
from stochbox.agents.tools import Tool, format_exec_result


class CoinArgs(BaseModel):
    flips: int


class CoinTool(Tool):
    name = "coin"
    description = "Flip a fair coin `flips` times in the sandbox."
    args_schema = CoinArgs

    async def arun(self, args, runtime):
        code = f"import random\\nprint(sum(random.random() < 0.5 for _ in range({args.flips})))"
        return format_exec_result(await runtime.execute(code, tool=self.name))
'''


def test_third_party_tool_from_an_entry_point(tmp_path, monkeypatch, episode, canonical):
    # A real installed-distribution layout (dist-info with entry_points.txt) on sys.path.
    (tmp_path / "coin_tool.py").write_text(THIRD_PARTY_TOOL)
    info = tmp_path / "coin_tool-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: coin-tool\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[stochbox.tools]\ncoin = coin_tool:CoinTool\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert list(available_tools(canonical["die-roll"])) == ["python", "coin"]

    script = tmp_path / "coin.yaml"
    script.write_text(json.dumps({"tool": [
        {"tool_calls": [{"name": "coin", "args": {"flips": 5}}]},
        {"tool_calls": [{"name": "submit", "args": {"answer": "{{last_output_line}}"}}]},
    ]}))
    out, rec = episode(make_llm_agent(f"scripted:{script}"), canonical["die-roll"], Mode.tool)
    assert out.status is EpisodeStatus.ok and 0 <= out.samples[0] <= 5
    assert rec.of("sandbox_exec")[0]["tool"] == "coin"
