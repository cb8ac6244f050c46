"""Build the Docker sandbox image (``stochbox sandbox build-image``).

Two recipes, one result: an image with Debian bookworm's ``python3``,
``python3-numpy`` and ``python3-scipy``, a non-root default user
(65534:65534) and ``/tmp`` as work dir. The fork-server is *not* baked in:
the host sends its source at bootstrap (see ``docs/architecture.md``), so an
image never goes stale when stochbox is upgraded.

* ``dockerfile``: ``docker/Dockerfile`` (needs a reachable registry for the
  ``debian:bookworm-slim`` base and apt inside the build).
* ``debootstrap``: offline from Debian's packages, for machines without a
  registry: ``debootstrap --variant=minbase`` into a temporary root file
  system without scipy's unused compiler toolchain (:data:`EXCLUDE`), trimmed
  (docs, caches, headers, setuid bits), packed as a
  tarball cached under the user cache dir, and ``docker import``-ed. A rebuild
  with the cached tarball takes seconds. Needs root and ``debootstrap``.

Both recipes use Debian's packages, so the Docker backend and the local jail
(which runs the host's ``/usr/bin/python3`` with the same Debian packages)
produce identical samples for a seed.

Contract: :func:`build_image` returns an :class:`ImageBuild` or raises
:class:`~stochbox.errors.SandboxUnavailableError` (no engine, not root,
``debootstrap`` missing, mirror unreachable) whose message says what to do.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from stochbox.errors import SandboxUnavailableError

DEFAULT_TAG = "stochbox-sandbox:latest"
SUITE = "bookworm"
# libopenblas0-pthread: the BLAS/LAPACK Debian picks when numpy is installed normally (the jail
# uses the host's); without it linear algebra falls back to reference BLAS and differs in the last bits.
PACKAGES = ("python3-minimal", "python3-numpy", "python3-scipy", "libopenblas0-pthread")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: python3-scipy hard-depends on python3-pythran, which drags in a C++ toolchain,
#: Boost and Python headers (~600 MB) that nothing imports at run time. Leaving
#: it out halves the build, and sandboxed code gets no compiler.
EXCLUDE = ("python3-pythran",)
# Paths removed from the root file system: nothing the sandboxed Python needs.
_TRIM = (
    "usr/share/doc", "usr/share/man", "usr/share/info", "usr/share/locale", "usr/share/lintian",
    "usr/include", "var/cache/apt", "var/lib/apt/lists", "var/log", "usr/lib/gcc", "usr/libexec/gcc",
)
#: Identifies the offline recipe; an image labelled with another one is rebuilt by :func:`ensure_image`.
RECIPE = hashlib.sha256(repr((SUITE, PACKAGES, EXCLUDE, _TRIM)).encode()).hexdigest()[:12]
#: Dockerfile-instruction changes applied on ``docker import`` (an imported image has no config).
IMPORT_CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "USER 65534:65534",
    "WORKDIR /tmp",
    "LABEL stochbox.image=1",
    f"LABEL stochbox.recipe={RECIPE}",
)

_BUILD_DPKG_CFG = Path("etc/dpkg/dpkg.cfg.d/zz-stochbox-build")

Method = Literal["auto", "dockerfile", "debootstrap"]


class ImageBuild(BaseModel):
    """What :func:`build_image` produced."""

    tag: str
    method: Literal["dockerfile", "debootstrap"]
    image_id: str
    duration_s: float
    size_bytes: int
    rootfs_cached: bool = False  # debootstrap: the cached tarball was reused


def repo_dockerfile_dir() -> Path:
    """The folder holding ``docker/Dockerfile`` (a source checkout)."""
    return Path(__file__).resolve().parent.parent / "docker"


def cache_dir() -> Path:
    from platformdirs import user_cache_dir

    return Path(os.environ.get("STOCHBOX_IMAGE_CACHE") or Path(user_cache_dir("stochbox")) / "image")


def apt_mirror(sources: tuple[Path, ...] = (Path("/etc/apt/sources.list.d/debian.sources"), Path("/etc/apt/sources.list"))) -> str:
    """The Debian mirror this machine's apt uses (so the build works where apt works)."""
    for path in sources:
        try:
            text = path.read_text()
        except OSError:
            continue
        for m in re.finditer(r"^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            uri = m.group(1).rstrip("/")
            if not uri.endswith("-security") and uri.startswith(("http://", "https://", "file:")):
                return uri
    return DEFAULT_MIRROR


def build_image(tag: str = DEFAULT_TAG, method: Method = "auto", *, mirror: str | None = None, fresh: bool = False) -> ImageBuild:
    """Build the sandbox image and tag it ``tag``.

    ``auto`` uses the Dockerfile when the engine can reach a registry, else
    the offline debootstrap recipe. ``fresh`` ignores the cached root file
    system tarball.
    """
    from stochbox.sandbox.docker_backend import docker_client

    import docker

    client = docker_client()
    try:
        try:
            previous = client.images.get(tag).id
        except docker.errors.ImageNotFound:
            previous = None
        if method == "auto":
            method = "dockerfile" if _registry_reachable(client) else "debootstrap"
        t0 = time.perf_counter()
        if method == "dockerfile":
            image_id, cached = _build_from_dockerfile(client, tag), False
        elif method == "debootstrap":
            image_id, cached = _build_with_debootstrap(client, tag, mirror or apt_mirror(), fresh=fresh)
        else:
            raise ValueError(f"unknown image build method {method!r}")
        image = client.images.get(image_id)
        if previous and previous != image.id:
            try:  # the untagged predecessor; kept while containers still use it
                client.images.remove(previous)
            except docker.errors.APIError:
                pass
        return ImageBuild(
            tag=tag, method=method, image_id=image.id, duration_s=time.perf_counter() - t0,
            size_bytes=int(image.attrs.get("Size") or 0), rootfs_cached=cached,
        )
    finally:
        client.close()


def ensure_image(tag: str = DEFAULT_TAG, method: Method = "auto") -> ImageBuild | None:
    """Build ``tag`` unless it exists; also rebuild an offline build of an older recipe.

    Returns the build, or None when the image was already current. Images
    without a recipe label (Dockerfile or user builds) are left alone.
    """
    import docker

    from stochbox.sandbox.docker_backend import docker_client

    client = docker_client()
    try:
        labels = client.images.get(tag).labels or {}
        if labels.get("stochbox.recipe", RECIPE) == RECIPE:
            return None
    except docker.errors.ImageNotFound:
        pass
    finally:
        client.close()
    return build_image(tag, method)


def _registry_reachable(client, timeout_s: float = 3.0) -> bool:
    """Whether the Dockerfile's base image is present or its registry answers."""
    import docker

    try:
        client.images.get("debian:bookworm-slim")
        return True
    except docker.errors.ImageNotFound:
        pass
    try:  # a cheap TCP probe first: inspect_distribution can hang for a minute offline
        socket.create_connection(("registry-1.docker.io", 443), timeout=timeout_s).close()
    except OSError:
        return False
    try:
        client.api.inspect_distribution("debian:bookworm-slim")
        return True
    except docker.errors.APIError:
        return False


def _build_from_dockerfile(client, tag: str) -> str:
    import docker

    folder = repo_dockerfile_dir()
    if not (folder / "Dockerfile").is_file():
        raise SandboxUnavailableError(
            f"{folder / 'Dockerfile'} not found", hint="use a source checkout, or build with --method debootstrap"
        )
    try:
        image, _ = client.images.build(path=str(folder), tag=tag, rm=True, pull=False)
    except docker.errors.BuildError as err:
        raise SandboxUnavailableError(
            f"docker build of {folder / 'Dockerfile'} failed: {err.msg}",
            hint="check that the engine can reach a registry and Debian's mirror, or use --method debootstrap",
        ) from None
    return image.id


def _build_with_debootstrap(client, tag: str, mirror: str, *, fresh: bool) -> tuple[str, bool]:
    cache = cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    mirror_key = hashlib.sha256(mirror.encode()).hexdigest()[:8]
    tarball = cache / f"rootfs-{SUITE}-{RECIPE}-{mirror_key}.tar"
    cached = tarball.is_file() and not fresh
    if not cached:
        _make_rootfs_tarball(tarball, mirror, debs=cache / "debs")
    from docker.utils import parse_repository_tag

    repository, version = parse_repository_tag(tag)
    result = client.api.import_image_from_file(str(tarball), repository=repository, tag=version or "latest", changes=list(IMPORT_CHANGES))
    # The engine answers with a JSON status whose last line carries the image id.
    ids = re.findall(r"sha256:[0-9a-f]{64}", str(result))
    return (ids[-1] if ids else client.images.get(tag).id), cached


def _make_rootfs_tarball(tarball: Path, mirror: str, *, debs: Path) -> None:
    if os.geteuid() != 0:
        raise SandboxUnavailableError(
            "building the sandbox image offline runs debootstrap, which needs root",
            hint="run 'sudo stochbox sandbox build-image', or build docker/Dockerfile where a registry is reachable",
        )
    debootstrap = shutil.which("debootstrap") or next(
        (p for p in ("/usr/sbin/debootstrap", "/sbin/debootstrap") if os.access(p, os.X_OK)), None
    )
    if debootstrap is None:
        raise SandboxUnavailableError(
            "debootstrap is not installed", hint="install it with: apt-get install debootstrap"
        )
    debs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="rootfs-", dir=tarball.parent) as work:
        rootfs = Path(work) / "rootfs"
        # debootstrap's --exclude acts before dependency resolution, so it cannot drop
        # a dependency; its suite scripts' EXCLUDE_DEPENDENCY can. dpkg then has to
        # accept the missing dependency when configuring (a build-only dpkg.cfg entry).
        script = Path(work) / "suite-script"
        excluded = " ".join(EXCLUDE)
        script.write_text(f'. "$DEBOOTSTRAP_DIR/scripts/{SUITE}"\nEXCLUDE_DEPENDENCY="{excluded}"\n')
        (rootfs / _BUILD_DPKG_CFG).parent.mkdir(parents=True)
        (rootfs / _BUILD_DPKG_CFG).write_text("force-depends\n")
        cmd = [
            debootstrap, "--variant=minbase", f"--cache-dir={debs}", f"--include={','.join(PACKAGES)}",
            SUITE, str(rootfs), mirror, str(script),
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            tail = " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
            raise SandboxUnavailableError(
                f"debootstrap from {mirror} failed (exit {proc.returncode}): {tail}",
                hint="check that this machine's apt mirror is reachable (apt-get update)",
            )
        _trim_rootfs(rootfs)
        partial = tarball.with_suffix(".partial")
        subprocess.run(["tar", "--numeric-owner", "-C", str(rootfs), "-cf", str(partial), "."], check=True)
        partial.replace(tarball)


def _trim_rootfs(rootfs: Path) -> None:
    (rootfs / _BUILD_DPKG_CFG).unlink(missing_ok=True)
    for rel in _TRIM:
        path = rootfs / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            path.mkdir(mode=0o755)
    # setuid/setgid binaries are useless under no-new-privileges; drop the bits anyway.
    subprocess.run(
        ["find", str(rootfs), "-xdev", "-type", "f", "-perm", "/6000", "-exec", "chmod", "ug-s", "{}", "+"], check=True
    )
    (rootfs / "tmp").chmod(0o1777)
