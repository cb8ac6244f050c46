"""The ``stochbox`` sandbox environment through Inspect's own API, and inside an Inspect task.

Executions really run in the local jail (``jail_backend``); the containment
battery's checks run through Inspect's ``exec`` from a solver, and the same
checks through Inspect's ``local`` sandbox show they can fail.
"""

from __future__ import annotations

import asyncio
import sys

import pytest

from stochbox.inspect.commands import build_program, python_fast_path


def test_plain_python_is_sent_as_is_and_everything_else_through_the_wrapper():
    assert build_program(["python3", "-c", "print(1)"]) == ("print(1)", {})
    assert build_program(["/usr/bin/python3", "-u", "-"], input="print(2)") == ("print(2)", {})
    assert python_fast_path(["python3", "script.py", "a"], None) == ("script", "script.py", ["script.py", "a"])
    assert python_fast_path(["python3", "-m", "pip"], None) is None
    assert python_fast_path(["bash", "-c", "ls"], None) is None
    code, globals_ = build_program(["bash", "-c", "ls"], cwd="sub", env={"A": "1"}, files={"sub/f": b"x"})
    assert globals_["_sb_kind"] == "command" and globals_["_sb_argv"] == ["bash", "-c", "ls"] and globals_["_sb_cwd"] == "sub"
    with pytest.raises(PermissionError):
        build_program(["python3", "/etc/passwd"])
    with pytest.raises(ValueError):
        build_program([])


@pytest.fixture(scope="module")
def env_factory(jail_backend):
    from stochbox.inspect.sandbox_env import StochboxSandboxConfig, StochboxSandboxEnvironment

    config = StochboxSandboxConfig(backend=jail_backend, pool_size=1, memory_mb=256)
    asyncio.run(StochboxSandboxEnvironment.task_init("test", config))

    async def make(metadata=None):
        envs = await StochboxSandboxEnvironment.sample_init("test", config, metadata or {"sample": "1"})
        return envs["default"]

    yield make
    asyncio.run(StochboxSandboxEnvironment.task_cleanup("test", config, True))


def run(coro):
    return asyncio.run(coro)


def test_exec_runs_python_commands_and_files_in_the_jail(env_factory):
    from inspect_ai.util import SandboxUserUnsupportedError

    async def scenario():
        env = await env_factory()
        out = {}
        out["c"] = await env.exec(["python3", "-c", "import sys; print(6 * 7, sys.argv)", "x"])
        out["stdin"] = await env.exec(["python3"], input="print('code on stdin')")
        await env.write_file("data/in.txt", "hello\n")
        out["file"] = await env.exec(["python3", "-c", "print(open('data/in.txt').read().strip(), input())"], input="typed\n")
        await env.write_file("main.py", "import os, sys\nprint(sys.argv[1:], os.environ['GREETING'])\nsys.exit(4)\n")
        out["script"] = await env.exec(["python3", "main.py", "--flag"], env={"GREETING": "hi"})
        out["shell"] = await env.exec(["sh", "-c", "cat in.txt; echo err >&2; exit 3"], cwd="data")
        out["missing"] = await env.exec(["no-such-command"])
        out["read"] = await env.read_file("data/in.txt")
        out["seeded"] = [
            (await env.exec(["python3", "-c", "import random; print(random.random())"], env={"STOCHBOX_SEED": "11"})).stdout
            for _ in range(2)
        ]
        with pytest.raises(TimeoutError):
            await env.exec(["python3", "-c", "while True: pass"], timeout=1)
        with pytest.raises(SandboxUserUnsupportedError):
            await env.exec(["python3", "-c", "1"], user="root")
        with pytest.raises(PermissionError):
            await env.write_file("/etc/evil", "x")
        with pytest.raises(FileNotFoundError):
            await env.read_file("never-written.txt")
        return out

    out = run(scenario())
    assert out["c"].success and out["c"].stdout == "42 ['-c', 'x']\n"
    assert out["stdin"].stdout == "code on stdin\n"
    assert out["file"].stdout == "hello typed\n"
    assert (out["script"].returncode, out["script"].stdout) == (4, "['--flag'] hi\n")
    assert (out["shell"].returncode, out["shell"].stdout, out["shell"].stderr) == (3, "hello\n", "err\n")
    assert out["missing"].returncode == 127 and "command not found" in out["missing"].stderr
    assert out["read"] == "hello\n"
    assert out["seeded"][0] == out["seeded"][1] != ""


def test_nothing_an_exec_leaves_behind_reaches_the_next_and_seeds_follow_the_sample(env_factory):
    async def scenario():
        a, b = await env_factory({"sample": "a"}), await env_factory({"sample": "a"})
        await a.exec(["python3", "-c", "open('left.txt', 'w').write('x')"])
        listing = await a.exec(["python3", "-c", "import os; print(sorted(os.listdir('.')))"])
        draws_a = [(await a.exec(["python3", "-c", "import random; print(random.random())"])).stdout for _ in range(2)]
        await b.exec(["python3", "-c", "1"])
        await b.exec(["python3", "-c", "1"])
        draws_b = [(await b.exec(["python3", "-c", "import random; print(random.random())"])).stdout for _ in range(2)]
        return listing.stdout, draws_a, draws_b

    listing, draws_a, draws_b = run(scenario())
    assert listing == "[]\n"
    assert draws_a[0] != draws_a[1]  # every exec its own seed
    assert draws_a == draws_b  # the k-th exec of a sample with the same identity gets the same seed


CHECKS = ("network", "loopback", "dns", "secret-file", "host-env", "writes", "persistence")


def battery_task(sandbox_spec, checks):
    """An Inspect task whose one sample runs battery checks through ``sandbox()`` and stores the results."""
    from inspect_ai import Task
    from inspect_ai.dataset import Sample
    from inspect_ai.solver import solver
    from inspect_ai.util import sandbox, store

    from stochbox.sandbox.check import CHECKS as ALL, run_battery

    from inspect_bridge import InspectExecSandbox

    python = sys.executable if sandbox_spec == "local" else "python3"

    @solver
    def run_checks():
        async def solve(state, generate):
            import anyio.to_thread

            env = sandbox()
            hello = await env.exec([python, "-c", "print(6 * 7)"])
            chosen = tuple(c for c in ALL if c.name in checks)
            results = await anyio.to_thread.run_sync(lambda: run_battery(lambda: InspectExecSandbox(env, python), chosen))
            store().set("hello", hello.stdout)
            store().set("results", [r.model_dump() for r in results])
            return state

        return solve

    return Task(dataset=[Sample(input="check", id="battery")], solver=run_checks(), sandbox=sandbox_spec)


def test_containment_checks_hold_inside_an_inspect_task_with_the_stochbox_sandbox(jail_backend, tmp_path):
    from inspect_ai import eval as inspect_eval

    from stochbox.inspect.sandbox_env import StochboxSandboxConfig

    spec = ("stochbox", StochboxSandboxConfig(backend=jail_backend, pool_size=1, memory_mb=256))
    log = inspect_eval(battery_task(spec, CHECKS), model="mockllm/model", log_dir=str(tmp_path), display="none")[0]
    assert log.status == "success", log.error
    sample = log.samples[0]
    assert sample.store["hello"] == "42\n"
    results = {r["name"]: r for r in sample.store["results"]}
    assert set(results) == set(CHECKS)
    failed = {name: r["detail"] for name, r in results.items() if not r["passed"]}
    assert not failed, failed
    # every exec went through Inspect's API and is in the log as a sandbox event
    execs = [e for e in sample.events if e.event == "sandbox" and e.action == "exec"]
    assert len(execs) >= 10


def test_the_same_checks_fail_in_inspects_unconfined_local_sandbox(tmp_path):
    """The checks can fail: through Inspect's ``local`` sandbox the host secret and environment are visible."""
    from inspect_ai import eval as inspect_eval

    log = inspect_eval(battery_task("local", ("secret-file", "host-env")), model="mockllm/model", log_dir=str(tmp_path), display="none")[0]
    assert log.status == "success", log.error
    results = {r["name"]: r for r in log.samples[0].store["results"]}
    assert not results["secret-file"]["passed"] and not results["host-env"]["passed"], results


@pytest.mark.docker
def test_docker_backend_behind_inspects_api_runs_python_and_commands_contained(docker_backend, tmp_path):
    """The same environment on stochbox's hardened containers: exec paths, then checks of the battery in a task."""
    from inspect_ai import eval as inspect_eval

    from stochbox.inspect.sandbox_env import StochboxSandboxConfig, StochboxSandboxEnvironment

    config = StochboxSandboxConfig(backend=docker_backend, pool_size=1, memory_mb=256)

    async def scenario():
        await StochboxSandboxEnvironment.task_init("docker-test", config)
        try:
            env = (await StochboxSandboxEnvironment.sample_init("docker-test", config, {}))["default"]
            await env.write_file("in.txt", "from the host\n")
            py = await env.exec(["python3", "-c", "print(open('in.txt').read().strip())"])
            sh = await env.exec(["sh", "-c", "cat in.txt; exit 5"])
            return py, sh
        finally:
            await StochboxSandboxEnvironment.task_cleanup("docker-test", config, True)

    py, sh = asyncio.run(scenario())
    assert py.stdout == "from the host\n" and (sh.returncode, sh.stdout) == (5, "from the host\n")
    spec = ("stochbox", config)
    log = inspect_eval(battery_task(spec, ("network", "secret-file", "host-env")), model="mockllm/model", log_dir=str(tmp_path), display="none")[0]
    results = {r["name"]: r for r in log.samples[0].store["results"]}
    assert all(r["passed"] for r in results.values()), results
