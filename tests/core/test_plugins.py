"""Third-party plug-ins through entry points: a sandbox backend, a model prefix and an executor.

A tiny distribution (a dist-info folder with ``entry_points.txt``, on ``sys.path``) registers
one of each; the same registries must then feed the command-line help, the config validation
and the factories, and a whole run must go through all three.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from stochbox.errors import ConfigError
from stochbox.plugins import Registry
from stochbox.run.config import RunConfig
from stochbox.run.executors.registry import EXECUTORS, executors_help, make_executor
from stochbox.run.runner import start_run
from stochbox.run.store import RunStore
from stochbox.run.trace import read_trace
from stochbox.sandbox import SandboxSpec, open_sandbox
from stochbox.sandbox.base import SANDBOXES, backend_names, backends_help
from stochbox.agents.resolve import MODELS, resolve_agent, supported_forms
from stochbox.testing.scenario_texts import UNIT, write_pack

PLUGIN = '''
import json

from stochbox.agents.base import Agent, EpisodeOutcome
from stochbox.results import EpisodeStatus, Mode
from stochbox.run.executors.base import Executor
from stochbox.sandbox.unsafe import UnsafeSubprocessSandbox


class EchoSandbox(UnsafeSubprocessSandbox):
    name = "echo"


def open_echo(spec):
    return EchoSandbox(spec=spec)


class EchoAgent(Agent):
    """Answers VALUE of ``echo:VALUE``; in tool mode it prints it in the sandbox and answers what came back."""

    def __init__(self, value):
        self.value = value

    async def arun_episode(self, ctx):
        if ctx.mode is Mode.tool:
            res = await ctx.sandbox.aexecute(f"print({self.value})", timeout_s=10, seed=ctx.seed)
            value = json.loads(res.stdout)
        else:
            value = float(self.value)
        ctx.emit("sample_submitted", samples=[value] * ctx.n_samples)
        return EpisodeOutcome(status=EpisodeStatus.ok, samples=[value] * ctx.n_samples)


def make_agent(spec, options):
    return EchoAgent(spec.split(":", 1)[1])


class InlineExecutor(Executor):
    name = "inline"
    episodes = 0

    async def run_episode(self, run, spec, trace):
        InlineExecutor.episodes += 1
        return await run.run_episode(spec, trace)


def not_a_sandbox(spec):
    return object()
'''

ENTRY_POINTS = """
[stochbox.sandboxes]
echo = echo_plugin:open_echo
broken = echo_plugin:not_a_sandbox

[stochbox.models]
echo = echo_plugin:make_agent

[stochbox.executors]
inline = echo_plugin:InlineExecutor
"""


@pytest.fixture
def plugin_dist(tmp_path, monkeypatch):
    """An installed-distribution layout of the plug-in on sys.path (as pip would leave it)."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "echo_plugin.py").write_text(PLUGIN)
    info = site / "echo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    monkeypatch.syspath_prepend(str(site))
    yield site
    sys.modules.pop("echo_plugin", None)


def test_entry_points_feed_names_help_validation_and_factories(plugin_dist):
    assert backend_names()[:4] == ["auto", "docker", "local", "unsafe-subprocess"]  # built-ins first, in order
    assert "echo" in backend_names() and "echo" in backends_help()
    assert SandboxSpec(backend="echo").backend == "echo"
    assert RunConfig(models=["echo:0.25"], sandbox="echo", executor="inline").executor == "inline"
    assert "inline" in EXECUTORS.names() and "inline" in executors_help()
    assert "echo" in MODELS.names() and "echo:..." in supported_forms()

    with open_sandbox("echo") as sb:
        assert sb.name == "echo"
        assert sb.execute("print(6 * 7)", timeout_s=10, seed=1).stdout.strip() == "42"
    assert type(resolve_agent("echo:0.5")).__name__ == "EchoAgent"
    assert type(make_executor("inline")).__name__ == "InlineExecutor"


def test_a_plugin_that_gives_the_wrong_kind_of_object_is_a_clear_error(plugin_dist):
    from stochbox.errors import SandboxUnavailableError

    with pytest.raises(SandboxUnavailableError, match="broken.*did not give a stochbox Sandbox"):
        open_sandbox("broken")


def test_unknown_names_are_refused_and_without_the_distribution_the_plugins_are_gone(tmp_path):
    with pytest.raises(ConfigError, match="--sandbox"):
        RunConfig.from_options(models=["baseline:oracle"], sandbox="echo")
    with pytest.raises(ConfigError, match="--executor"):
        RunConfig.from_options(models=["baseline:oracle"], executor="inline")
    with pytest.raises(ConfigError, match="--executor must be one of local, processes, ray"):
        make_executor("inline")


def test_a_run_goes_through_a_third_party_backend_model_and_executor(plugin_dist, tmp_path):
    pack = write_pack(tmp_path / "pack", {"unit.yaml": UNIT})
    config = RunConfig.from_options(
        models=["echo:0.25"], packs=[str(pack)], mode="both", n=3, reference_n=200, sandbox="echo", executor="inline"
    )
    outcome = start_run(config, tmp_path / "run")
    assert (outcome.status, outcome.done, outcome.total) == ("complete", 6, 6)
    with RunStore(tmp_path / "run") as store:
        records = list(store.records())
    assert sorted((r.mode.value, r.samples) for r in records) == [("native", [0.25])] * 3 + [("tool", [0.25])] * 3
    events = read_trace(tmp_path / "run")
    start = next(e for e in events if e.event == "run_start")
    assert start.payload["sandbox"]["backend"] == "echo" and start.payload["config"]["executor"] == "inline"
    assert sys.modules["echo_plugin"].InlineExecutor.episodes == 6


def test_the_command_line_lists_and_uses_the_plugins(plugin_dist, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugin_dist), os.environ.get("PYTHONPATH", "")])}
    cli = [sys.executable, "-m", "stochbox"]
    help_text = subprocess.run([*cli, "run", "--help"], env=env, capture_output=True, text=True, timeout=120, check=True).stdout
    assert "echo" in help_text and "inline" in help_text
    done = subprocess.run(
        [*cli, "sandbox", "exec", "--sandbox", "echo", "--json", "-c", "print(2 + 3)"],
        env=env, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["stdout"].strip() == "5"


def test_a_builtin_name_wins_over_an_entry_point_and_is_registered_once():
    reg: Registry = Registry("thing", group="stochbox.test-things")

    @reg.register("a", help="first")
    def a() -> str:
        return "a"

    with pytest.raises(ValueError, match="registered twice"):
        reg.register("a")(a)
    assert reg.names() == ["a"] and reg.factory("a") is a and reg.factory("b") is None and "b" not in reg
