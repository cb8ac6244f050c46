"""The Docker backend against the real engine and the real sandbox image (no mocked client).

Skipped when no engine answers or the image is missing, unless
``STOCHBOX_REQUIRE_DOCKER=1`` (set by ``.ci/run``) makes that a failure.
Option merging is tested without an engine.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time

import pytest

from stochbox.errors import ConfigError
from stochbox.sandbox import transport
from stochbox.sandbox.base import SandboxSpec
from stochbox.sandbox.docker_options import hardened_options, merge_options

from machine_features import require_or_skip

IMAGE = SandboxSpec().image


def _require_docker() -> None:
    from stochbox.sandbox.docker_backend import docker_available, docker_client

    if not docker_available(timeout_s=2.0):
        require_or_skip("STOCHBOX_REQUIRE_DOCKER", False, "no Docker engine answers")
    client = docker_client()
    try:
        client.images.get(IMAGE)
        present = True
    except Exception:
        present = False
    finally:
        client.close()
    require_or_skip("STOCHBOX_REQUIRE_DOCKER", present, f"sandbox image {IMAGE} missing (stochbox sandbox build-image)")


@pytest.fixture(scope="module")
def docker_sb():
    _require_docker()
    from stochbox.sandbox.docker_backend import DockerSandbox

    sb = DockerSandbox(SandboxSpec(backend="docker", pool_size=2, memory_mb=256))
    yield sb
    sb.close()


# --------------------------------------------------------------------------- options (no engine)


def test_hardened_defaults_cannot_be_weakened():
    base = hardened_options(SandboxSpec())
    weakening = [
        {"network_mode": "bridge"},
        {"network_mode": "host"},
        {"network_disabled": False},
        {"read_only": False},
        {"init": False},
        {"privileged": True},
        {"cap_add": ["SYS_ADMIN"]},
        {"user": "root"},
        {"user": "0:0"},
        {"volumes": {"/": {"bind": "/host", "mode": "ro"}}},
        {"mounts": []},
        {"environment": {"OPENAI_API_KEY": "x"}},
        {"security_opt": ["seccomp=unconfined"]},
        {"security_opt": ["no-new-privileges:false"]},
        {"pid_mode": "host"},
        {"ipc_mode": "host"},
        {"tmpfs": {"/scratch": "rw"}},
        {"mem_limit": "64g"},
        {"labels": {"stochbox.pid": "1"}},
    ]
    for extra in weakening:
        with pytest.raises(ConfigError, match=next(iter(extra))):
            merge_options(base, extra)


def test_additive_options_keep_every_default():
    base = hardened_options(SandboxSpec())
    merged = merge_options(base, {
        "cap_drop": ["NET_RAW"], "security_opt": ["apparmor=docker-default"], "runtime": "runc",
        "tmpfs": {"/scratch": "rw,size=8m"}, "ulimits": [], "labels": {"team": "stats"},
    })
    assert merged["network_mode"] == "none" and merged["read_only"] is True and merged["init"] is True
    assert "ALL" in merged["cap_drop"] and "NET_RAW" in merged["cap_drop"]
    assert merged["security_opt"] == ["no-new-privileges", "apparmor=docker-default"]
    assert merged["tmpfs"]["/tmp"] == base["tmpfs"]["/tmp"] and merged["tmpfs"]["/scratch"] == "rw,size=8m"
    assert base["cap_drop"] == ["ALL"]  # the defaults themselves are not mutated


def test_docker_available_is_false_without_an_engine(monkeypatch):
    from stochbox.sandbox.docker_backend import docker_available

    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    assert docker_available() is False


# --------------------------------------------------------------------------- the real engine


@pytest.mark.docker
def test_battery_passes_in_docker():
    _require_docker()
    from stochbox.sandbox.check import run_battery
    from stochbox.sandbox.docker_backend import DockerSandbox

    results = run_battery(lambda: DockerSandbox(SandboxSpec(backend="docker", pool_size=1, memory_mb=256)))
    failed = [f"{r.name}: {r.detail}" for r in results if not r.passed]
    assert not failed, failed
    assert len(results) >= 12


@pytest.mark.docker
def test_inspected_container_is_hardened(docker_sb):
    attrs = docker_sb.container_attrs()
    hc, cfg = attrs["HostConfig"], attrs["Config"]
    assert hc["NetworkMode"] == "none"
    assert hc["ReadonlyRootfs"] is True
    assert hc["CapDrop"] == ["ALL"] and not hc["CapAdd"] and hc["Privileged"] is False
    assert "no-new-privileges" in hc["SecurityOpt"]
    assert hc["PidsLimit"] == 64
    assert hc["Memory"] > 0 and hc["MemorySwap"] == hc["Memory"]
    assert hc["NanoCpus"] == 1_000_000_000
    assert hc["Init"] is True
    assert "size=" in hc["Tmpfs"]["/tmp"]
    assert not hc["Binds"] and attrs["Mounts"] == []
    assert int(cfg["User"].split(":")[0]) >= 1000
    assert cfg["Labels"]["stochbox.sandbox"] == "1" and cfg["Labels"]["stochbox.run"] == docker_sb.run_id
    assert cfg["StdinOnce"] is True
    env_names = {e.split("=", 1)[0] for e in cfg["Env"]}
    assert env_names <= set(transport.SERVER_ENV)
    layers = {layer.name: layer for layer in docker_sb.layers()}
    inactive = [name for name, layer in layers.items() if not layer.active and name != "landlock"]
    assert not inactive, inactive
    assert {"network", "read-only root", "capabilities", "no-new-privileges", "seccomp", "uid"} <= set(layers)


@pytest.mark.docker
def test_weakening_option_is_rejected_before_any_container_starts():
    _require_docker()
    from stochbox.sandbox.docker_backend import DockerSandbox, docker_client

    client = docker_client()
    before = {c.id for c in client.containers.list(all=True)}
    with pytest.raises(ConfigError, match="network_mode"):
        DockerSandbox(SandboxSpec(backend="docker"), run_options={"network_mode": "bridge"})
    from stochbox.sandbox import open_sandbox

    with pytest.raises(ConfigError, match="privileged"):  # the same rule for options in the spec
        open_sandbox(SandboxSpec(backend="docker", docker_options={"privileged": True}))
    after = {c.id for c in client.containers.list(all=True, filters={"label": "stochbox.sandbox=1"})}
    client.close()
    assert not (after - before)


@pytest.mark.docker
def test_killed_container_gives_a_result_and_the_next_execution_works(docker_sb):
    from stochbox.sandbox.docker_backend import docker_client

    sb = docker_sb
    client = docker_client()
    before = {c.id for c in client.containers.list(filters={"label": f"stochbox.run={sb.run_id}"})}
    box: dict = {}

    async def run_and_kill():
        code = "import time; open('busy-marker', 'w').close(); time.sleep(60)"
        task = asyncio.create_task(sb.aexecute(code, timeout_s=60))
        await asyncio.sleep(1.5)
        for container in client.containers.list(filters={"label": f"stochbox.run={sb.run_id}"}):
            found = container.exec_run(["find", "/tmp/stochbox-work", "-name", "busy-marker"]).output
            if found.strip():  # the container running the snippet: kill it under the server
                container.kill()
                box["killed"] = container.id
        box["result"] = await asyncio.wait_for(task, 30)

    t0 = time.monotonic()
    asyncio.run(run_and_kill())
    assert "killed" in box
    res = box["result"]
    assert res.sandbox_error and res.killed_reason == "server_crash" and res.exit_code is None
    assert time.monotonic() - t0 < 20
    for _ in range(sb.spec.pool_size + 1):  # every slot serves again, the killed one on a new container
        again = sb.execute("print(6 * 7)", timeout_s=10)
        assert again.ok and again.stdout == "42\n", again
    now = {c.id for c in client.containers.list(filters={"label": f"stochbox.run={sb.run_id}"})}
    client.close()
    assert box["killed"] not in now and len(now) == sb.spec.pool_size and now != before


@pytest.mark.docker
def test_hung_server_is_replaced_after_the_host_deadline(docker_sb, monkeypatch):
    from stochbox.sandbox.docker_backend import docker_client

    monkeypatch.setattr(transport, "REPLY_GRACE_S", 1.0)
    docker_sb.pool.start()  # every slot has a running container to freeze
    client = docker_client()
    containers = client.containers.list(filters={"label": f"stochbox.run={docker_sb.run_id}"})
    for c in containers:  # a frozen server: Docker's own exec has no timeout, ours must
        c.pause()
    try:
        res = docker_sb.execute("print(1)", timeout_s=1.0)
    finally:
        for c in containers:
            try:
                c.reload()
                if c.status == "paused":
                    c.unpause()
            except Exception:
                pass  # removed by the backend
    client.close()
    assert res.sandbox_error and "did not answer" in res.sandbox_error
    assert res.duration_s < 10
    assert docker_sb.execute("print('back')").stdout == "back\n"


@pytest.mark.docker
def test_pool_serves_concurrent_executions_in_separate_containers(docker_sb):
    async def both():
        code = "import os, time; time.sleep(1); print(os.getuid())"
        return await asyncio.gather(*(docker_sb.aexecute(code, timeout_s=20) for _ in range(2)))

    t0 = time.monotonic()
    results = asyncio.run(both())
    assert all(r.ok for r in results), results
    assert len({r.stdout for r in results}) == 2  # one uid per slot: two containers ran them
    assert time.monotonic() - t0 < 2 * 1 + 5


@pytest.mark.docker
def test_orphans_of_a_dead_process_are_removed_and_live_ones_kept(docker_sb):
    from stochbox.sandbox.docker_backend import cleanup_orphans, docker_client

    # A real stochbox process that dies without closing its sandbox.
    crash = textwrap.dedent("""
        import os
        from stochbox.sandbox.base import SandboxSpec
        from stochbox.sandbox.docker_backend import DockerSandbox
        sb = DockerSandbox(SandboxSpec(backend="docker", pool_size=1))
        print(sb.run_id, flush=True)
        os._exit(9)
    """)
    proc = subprocess.run([sys.executable, "-c", crash], capture_output=True, text=True, timeout=120)
    run_id = proc.stdout.strip()
    assert run_id, proc.stderr
    client = docker_client()
    orphan_filter = {"label": f"stochbox.run={run_id}"}
    mine = {c.id for c in client.containers.list(all=True, filters={"label": f"stochbox.run={docker_sb.run_id}"})}
    # Its server saw stdin close (StdinOnce) and exited by itself; the stopped container stays until cleanup.
    deadline = time.monotonic() + 15
    while any(c.status == "running" for c in client.containers.list(all=True, filters=orphan_filter)):
        assert time.monotonic() < deadline, "the dead host's server kept running"
        time.sleep(0.2)
    # Other stochbox processes starting up on this engine may remove the orphan first: either way it must go.
    cleanup_orphans()
    assert client.containers.list(all=True, filters=orphan_filter) == []
    still = {c.id for c in client.containers.list(all=True, filters={"label": f"stochbox.run={docker_sb.run_id}"})}
    client.close()
    assert mine and mine == still
    assert docker_sb.execute("print('mine still works')").ok


@pytest.mark.docker
@pytest.mark.jail
def test_same_seed_same_samples_as_the_local_jail(docker_sb):
    from stochbox.sandbox.local import LocalSandbox, jail_problem

    problem = jail_problem()
    require_or_skip("STOCHBOX_REQUIRE_JAIL", problem is None, f"local jail unavailable: {problem}")
    code = textwrap.dedent("""
        import random, numpy as np, scipy.stats as st
        rng = np.random.default_rng()
        print(random.random(), np.random.normal(size=3).tolist(), rng.gamma(2.0, size=3).tolist())
        print(st.norm.rvs(size=2).tolist(), np.linalg.svd(np.random.rand(4, 4))[1].tolist())
    """)
    local = LocalSandbox(SandboxSpec(backend="local", pool_size=1, memory_mb=256))
    try:
        for seed in (0, 12345, 2**63 - 1):
            a, b = docker_sb.execute(code, seed=seed), local.execute(code, seed=seed)
            assert a.ok and b.ok, (a, b)
            assert a.stdout == b.stdout
    finally:
        local.close()
