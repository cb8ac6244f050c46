"""The truth cache: reference samples stored content-addressed on disk.

Contract:

* A reference is identified by :func:`reference_key` -- the sha256 of the
  ground-truth program code, its ``batch`` flag, ``n`` and ``seed``. Editing a
  program (or asking for another n or seed) gives a new key; nothing is ever
  invalidated in place.
* Files are written atomically (temporary file in the same folder, fsync,
  rename), so a reader sees either nothing or a complete file, also when
  several processes fill the same cache.
* The stored bytes are a pure function of the samples (canonical JSON), so
  the same seed gives byte-identical files.
* The reference seed of a scenario is ``derive_seed(seed, "reference", id)``
  (:func:`reference_seed`); ground truth only ever runs in a sandbox.

Cache folder: ``--cache-dir``, else ``$STOCHBOX_CACHE_DIR``, else
``platformdirs.user_cache_dir("stochbox")/reference``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import BaseModel, ConfigDict

from stochbox.errors import RunStoreError, StochboxError
from stochbox.sandbox.base import Sandbox
from stochbox.scenarios.models import Scenario
from stochbox.seeding import derive_seed
from stochbox.reference.truth import agenerate_samples, generate_samples

CACHE_ENV = "STOCHBOX_CACHE_DIR"
FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_cache_dir("stochbox")) / "reference"


def reference_seed(seed: int, scenario_id: str) -> int:
    return derive_seed(seed, "reference", scenario_id)


def reference_key(scenario: Scenario, n: int, seed: int) -> str:
    """sha256 over (program code, batch flag, n, seed); the seed is the *reference* seed."""
    gt = scenario.ground_truth
    h = hashlib.sha256()
    for part in (f"v{FORMAT_VERSION}", gt.code or "", f"batch={gt.batch}", f"n={n}", f"seed={seed}"):
        raw = part.encode()
        h.update(len(raw).to_bytes(8, "big") + raw)
    return h.hexdigest()


class ReferenceFile(BaseModel):
    """One cached reference (the file body). ``scenario`` is informative only: the key is the identity."""

    model_config = ConfigDict(extra="forbid")

    format: int = FORMAT_VERSION
    key: str
    scenario: str
    n: int
    seed: int
    samples: list[Any]


class ReferenceRef(BaseModel):
    """Where a run's reference for one scenario lives (recorded in run.json)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str
    key: str
    n: int
    seed: int


def canonical_json(obj: Any) -> bytes:
    return (json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n").encode()


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file and rename; raises RunStoreError on OS errors."""
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.fchmod(fd, 0o644)  # mkstemp makes 0600; run files and references are not secret
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise RunStoreError(f"cannot write {path}: {exc.strerror or exc}", hint="check the folder's permissions and free space") from None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


class ReferenceCache:
    """Reference samples by key in ``root`` (``<root>/<key[:2]>/<key>.json``)."""

    def __init__(self, root: Path | str | None = None) -> None:
        self.root = Path(root).expanduser() if root is not None else default_cache_dir()

    def path_for(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def ref(self, scenario: Scenario, n: int, root_seed: int) -> ReferenceRef:
        seed = reference_seed(root_seed, scenario.id)
        return ReferenceRef(scenario=scenario.id, key=reference_key(scenario, n, seed), n=n, seed=seed)

    def load(self, key: str) -> list[Any] | None:
        """Cached samples, or None when absent or unreadable (a damaged file is regenerated, never trusted)."""
        path = self.path_for(key)
        try:
            body = ReferenceFile.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            return None
        if body.key != key or len(body.samples) != body.n:
            return None
        return body.samples

    def store(self, ref: ReferenceRef, samples: list[Any]) -> Path:
        body = ReferenceFile(key=ref.key, scenario=ref.scenario, n=ref.n, seed=ref.seed, samples=samples)
        path = self.path_for(ref.key)
        atomic_write(path, canonical_json(body.model_dump(mode="json")))
        return path

    def get(self, scenario: Scenario, n: int, root_seed: int, sandbox: Sandbox) -> tuple[list[Any], bool]:
        """(samples, was_cached). Generates in ``sandbox`` and stores on a miss; TruthError if the program fails."""
        return self.get_ref(self.ref(scenario, n, root_seed), scenario, sandbox)

    async def aget(self, scenario: Scenario, n: int, root_seed: int, sandbox: Sandbox) -> tuple[list[Any], bool]:
        return await self.aget_ref(self.ref(scenario, n, root_seed), scenario, sandbox)

    def get_ref(self, ref: ReferenceRef, scenario: Scenario, sandbox: Sandbox) -> tuple[list[Any], bool]:
        cached = self.load(ref.key)
        if cached is not None:
            return cached, True
        self._check(ref, scenario)
        samples = generate_samples(scenario, ref.n, ref.seed, sandbox)
        self.store(ref, samples)
        return self._reload(ref, samples), False

    async def aget_ref(self, ref: ReferenceRef, scenario: Scenario, sandbox: Sandbox | None) -> tuple[list[Any], bool]:
        """:meth:`get_ref` without blocking the event loop; ``sandbox=None`` only reads the cache
        (RunStoreError on a miss)."""
        cached = self.load(ref.key)
        if cached is not None:
            return cached, True
        if sandbox is None:
            raise RunStoreError(f"reference for scenario '{ref.scenario}' is not in the truth cache {self.root}")
        self._check(ref, scenario)
        samples = await agenerate_samples(scenario, ref.n, ref.seed, sandbox)
        self.store(ref, samples)
        return self._reload(ref, samples), False

    @staticmethod
    def _check(ref: ReferenceRef, scenario: Scenario) -> None:
        if reference_key(scenario, ref.n, ref.seed) != ref.key:
            raise ValueError(f"reference {ref.key} was not made from scenario '{scenario.id}' as given")

    def _reload(self, ref: ReferenceRef, samples: list[Any]) -> list[Any]:
        # Hand out what a later cache hit will return (JSON round trip), so a
        # fresh run and a cached run see identical values.
        loaded = self.load(ref.key)
        return loaded if loaded is not None else json.loads(canonical_json(samples))


class TruthOutcome(BaseModel):
    """One scenario's line of ``stochbox truth``."""

    scenario: str
    n: int
    key: str
    cached: bool = False
    seconds: float = 0.0
    error: str | None = None


async def fill_cache(
    scenarios: list[Scenario], n: int, root_seed: int, cache: ReferenceCache, sandbox: Sandbox | None, jobs: int
) -> list[TruthOutcome]:
    """Make sure every scenario's reference is cached, ``jobs`` ground truths at a time.

    Never raises for a failing program: its outcome carries ``error`` and the
    others still complete. Outcomes come back in ``scenarios`` order.
    ``sandbox=None`` only reports what is cached (a miss is an outcome with ``error``).
    """
    gate = asyncio.Semaphore(jobs)

    async def one(sc: Scenario) -> TruthOutcome:
        ref = cache.ref(sc, n, root_seed)
        async with gate:
            t0 = time.perf_counter()
            try:
                _, cached = await cache.aget_ref(ref, sc, sandbox)
            except StochboxError as exc:
                return TruthOutcome(scenario=sc.id, n=n, key=ref.key, seconds=time.perf_counter() - t0, error=str(exc))
            return TruthOutcome(scenario=sc.id, n=n, key=ref.key, cached=cached, seconds=time.perf_counter() - t0)

    return list(await asyncio.gather(*(one(sc) for sc in scenarios)))


async def load_references(
    refs: list[ReferenceRef], scenarios: list[Scenario], cache: ReferenceCache, sandbox: Sandbox | None, jobs: int
) -> dict[str, list[Any]]:
    """A run's reference samples by scenario id: from the cache, generated in ``sandbox`` where missing
    (``jobs`` ground truths at a time); ``sandbox=None``: RunStoreError for a reference not in the cache.
    Unlike :func:`fill_cache`, the first failing program raises (its TruthError)."""
    by_id = {s.id: s for s in scenarios}
    gate = asyncio.Semaphore(jobs)

    async def one(ref: ReferenceRef) -> list[Any]:
        cached = cache.load(ref.key)
        if cached is not None:  # a cache hit never waits for the gate
            return cached
        async with gate:
            samples, _ = await cache.aget_ref(ref, by_id[ref.scenario], sandbox)
        return samples

    values = await asyncio.gather(*(one(r) for r in refs))
    return {r.scenario: v for r, v in zip(refs, values)}
