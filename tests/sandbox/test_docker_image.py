"""The sandbox image recipe: mirror discovery, and the built image on this machine (docker-marked).

Building from scratch takes minutes, so tests inspect the image ``.ci/run``
built (``docker/ci-setup.sh``) rather than rebuilding it.
"""

from __future__ import annotations

import pytest

from stochbox.sandbox import image
from stochbox.sandbox.base import SandboxSpec


def test_apt_mirror_reads_deb822_and_one_line_sources(tmp_path):
    deb822 = tmp_path / "debian.sources"
    deb822.write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\n\n"
        "Types: deb\nURIs: http://mirror.example/debian/\nSuites: bookworm\n"
    )
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n")
    assert image.apt_mirror((deb822, one_line)) == "http://mirror.example/debian"
    assert image.apt_mirror((tmp_path / "missing", one_line)) == "http://other.example/debian"
    assert image.apt_mirror((tmp_path / "missing",)) == image.DEFAULT_MIRROR


def _require_docker() -> None:
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("_stochbox_test_docker", Path(__file__).with_name("test_docker.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module._require_docker()


PROBE = (
    "import os, sys, shutil, numpy, scipy; "
    "blas = os.path.realpath('/usr/lib/x86_64-linux-gnu/libblas.so.3'); "
    "print(sys.version.split()[0], numpy.__version__, scipy.__version__, blas, shutil.which('gcc'), shutil.which('g++'))"
)


@pytest.mark.docker
def test_image_matches_the_jail_interpreter_and_has_no_compiler():
    import os
    import subprocess

    _require_docker()
    from stochbox.sandbox.docker_backend import docker_client

    client = docker_client()
    try:
        out = client.containers.run(
            SandboxSpec().image, ["/usr/bin/python3", "-c", PROBE], network_mode="none", remove=True
        ).decode()
        config = client.images.get(SandboxSpec().image).attrs["Config"]
    finally:
        client.close()
    assert out.split()[4:] == ["None", "None"]  # no compiler for sandboxed code
    if os.access("/usr/bin/python3", os.X_OK):  # the local jail's interpreter: same versions, same samples
        host = subprocess.run(["/usr/bin/python3", "-c", PROBE], capture_output=True, text=True)
        if host.returncode == 0:
            assert out.split()[:4] == host.stdout.split()[:4]  # python, numpy, scipy, BLAS
    assert config["User"] == "65534:65534" and config["WorkingDir"] == "/tmp"


@pytest.mark.docker
def test_ensure_image_leaves_a_current_image_alone():
    _require_docker()
    assert image.ensure_image(SandboxSpec().image) is None
