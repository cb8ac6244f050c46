"""Hostile code outside the battery stays contained in Docker too: the jail's attack list, run in a container.

Each snippet prints ``CONTAINED`` only when its attack failed; after every
attack the container's server must still be the same, healthy process.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from stochbox.sandbox.base import SandboxSpec

pytestmark = pytest.mark.docker


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"_stochbox_{name}", Path(__file__).with_name(f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_HOSTILE = _load("test_hostile")
ATTACKS = _HOSTILE.ATTACKS
# Docker-specific: the container's own plumbing.
DOCKER_ATTACKS = {
    "write the read-only root": "open('/usr/lib/python3/dist-packages/numpy/__init__.py', 'a').write('pwned')",
    "exec a binary dropped in the work dir": (
        "import shutil, subprocess; shutil.copy('/usr/bin/true', 'mytrue'); os.chmod('mytrue', 0o755); "
        "subprocess.run(['./mytrue'], check=True)"
    ),
    "read the container runtime's config": "open('/proc/1/cmdline', 'rb').read(); open('/.dockerenv').read(); os.listdir('/run/secrets')",
    "reach the engine over TCP": "socket.create_connection(('172.17.0.1', 2375), timeout=2)",
    "fill the tmpfs beyond its cap": "open('big', 'wb').write(b'x' * (128 << 20))",
}


@pytest.fixture(scope="module")
def docker_sb():
    _load("test_docker")._require_docker()
    from stochbox.sandbox.docker_backend import DockerSandbox

    sb = DockerSandbox(SandboxSpec(backend="docker", pool_size=1, memory_mb=256))
    yield sb
    sb.close()


@pytest.mark.parametrize("attack", [*ATTACKS, *DOCKER_ATTACKS])
def test_attack_is_contained_in_docker(docker_sb, host_abstract_socket, attack):
    _HOSTILE.assert_attack_contained(docker_sb, {**ATTACKS, **DOCKER_ATTACKS}[attack], host_abstract_socket)
