"""The ``stochbox`` sandbox environment for Inspect: ``sandbox="stochbox"`` in any task.

Backed by stochbox's warm, confined fork-server (:mod:`stochbox.sandbox`): the
local bubblewrap jail or hardened Docker containers (``backend``; ``auto``
picks Docker when an engine answers, else the jail; ``unsafe-subprocess``
only when named). What ``exec`` does with a command is in
:mod:`stochbox.inspect.commands`: Python source runs directly in an
already-started process (the fast path); any other command runs as a child
of one, inside the same jail.

Contract (Inspect's :class:`SandboxEnvironment` API):

* ``task_init`` opens one server pool per distinct configuration;
  ``task_cleanup`` closes it. ``sample_init`` gives each sample its own
  environment (its own files and execution counter) on that pool;
  ``sample_cleanup`` drops the sample's files.
* Files: every execution starts in a fresh, empty work dir (nothing an
  execution leaves behind is visible to the next one: that is part of the
  containment). ``write_file`` keeps a file for the sample on the host side
  and every later ``exec`` of the sample finds it in its work dir;
  ``read_file`` returns what was written. Files a command creates are *not*
  kept: print what you need, or write the file and print it in one exec.
  Paths are relative to the work dir; absolute paths are refused
  (``PermissionError``).
* Seeds: ``random`` and ``numpy.random`` are seeded in every execution. Pass
  ``env={"STOCHBOX_SEED": "<int>"}`` to choose the seed (the variable is
  not passed on); otherwise the k-th exec of a sample gets
  ``derive_seed(config.seed, "inspect", task, sample metadata, k)``.
* ``timeout`` (seconds, default ``config.timeout_s``) kills the execution and
  raises ``TimeoutError``; it is never retried (the same seed would give the
  same outcome). A memory or output kill is a failed result with a
  ``[stochbox: ...]`` line on stderr. ``user`` is not supported
  (``SandboxUserUnsupportedError``): code runs as the jail's unprivileged uid.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import threading
from pathlib import Path
from typing import Any, Literal, Union, overload

import yaml
from inspect_ai.util import (
    ExecResult,
    OutputLimitExceededError,
    SandboxEnvironment,
    SandboxEnvironmentConfigType,
    SandboxUserUnsupportedError,
    sandboxenv,
)
from pydantic import BaseModel, ConfigDict, Field

from stochbox.errors import ConfigError
from stochbox.inspect.commands import build_program, normalize_path
from stochbox.sandbox import Sandbox, SandboxSpec, open_sandbox
from stochbox.seeding import derive_seed

SEED_ENV = "STOCHBOX_SEED"
#: Inspect's own default per-stream exec output limit (10 MiB).
DEFAULT_OUTPUT_CAP = 10 * 1024 * 1024
_BACKENDS = ("auto", "local", "docker", "unsafe-subprocess")


class StochboxSandboxConfig(BaseModel):
    """Configuration of the ``stochbox`` sandbox (``sandbox=("stochbox", StochboxSandboxConfig(...))``,
    a backend name such as ``("stochbox", "local")``, or a YAML/JSON file with these fields)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    backend: Literal["auto", "local", "docker", "unsafe-subprocess"] = "auto"
    pool_size: int | None = Field(default=None, ge=1, le=256, description="warm servers; default: one per CPU")
    memory_mb: int = Field(default=1024, ge=64)
    timeout_s: float = Field(default=60.0, gt=0, description="exec timeout when the caller gives none")
    output_cap: int = Field(default=DEFAULT_OUTPUT_CAP, ge=1024, description="bytes kept of stdout and of stderr")
    seed: int = Field(default=0, ge=0, lt=2**63)


def resolve_config(config: SandboxEnvironmentConfigType | None) -> StochboxSandboxConfig:
    """Our config from what Inspect passes: None, our model, a dict, a backend name or a YAML/JSON file."""
    if config is None:
        return StochboxSandboxConfig()
    if isinstance(config, StochboxSandboxConfig):
        return config
    if isinstance(config, BaseModel):
        return StochboxSandboxConfig.model_validate(config.model_dump())
    if isinstance(config, dict):
        return StochboxSandboxConfig.model_validate(config)
    if isinstance(config, str):
        if config in _BACKENDS:
            return StochboxSandboxConfig(backend=config)  # type: ignore[arg-type]
        path = Path(config)
        if not path.is_file():
            raise ConfigError(
                f"sandbox config '{config}': neither a backend ({', '.join(_BACKENDS)}) nor a file",
                hint='e.g. sandbox=("stochbox", "local")',
            )
        data = yaml.safe_load(path.read_text())
        return StochboxSandboxConfig.model_validate(data or {})
    raise ConfigError(f"sandbox config of type {type(config).__name__} is not understood by the stochbox sandbox")


def _key(config: StochboxSandboxConfig) -> str:
    return config.model_dump_json()


class _Pools:
    """Open stochbox sandboxes by configuration, shared by every task and sample that uses one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.open: dict[str, Sandbox] = {}
        self.users: dict[str, int] = {}

    def acquire(self, config: StochboxSandboxConfig) -> Sandbox:
        with self.lock:
            key = _key(config)
            if key not in self.open:
                spec = SandboxSpec(
                    backend=config.backend,
                    pool_size=config.pool_size or max(1, min(os.cpu_count() or 1, 256)),
                    memory_mb=config.memory_mb,
                )
                self.open[key] = open_sandbox(spec)
            self.users[key] = self.users.get(key, 0) + 1
            return self.open[key]

    def get(self, config: StochboxSandboxConfig) -> Sandbox:
        with self.lock:
            sb = self.open.get(_key(config))
        return sb if sb is not None else self.acquire(config)

    def release(self, config: StochboxSandboxConfig) -> None:
        with self.lock:
            key = _key(config)
            self.users[key] = self.users.get(key, 1) - 1
            if self.users[key] > 0:
                return
            self.users.pop(key, None)
            sb = self.open.pop(key, None)
        if sb is not None:
            sb.close()


    def close_all(self) -> None:
        with self.lock:
            pools, self.open, self.users = list(self.open.values()), {}, {}
        for sb in pools:
            sb.close()


POOLS = _Pools()
# Environments made outside a task (sample_init without task_init) open a pool on first use; close it at exit.
atexit.register(POOLS.close_all)


@sandboxenv(name="stochbox")
class StochboxSandboxEnvironment(SandboxEnvironment):
    """One sample's view of a shared stochbox sandbox (see the module contract)."""

    def __init__(self, sandbox: Sandbox, config: StochboxSandboxConfig, seed: int) -> None:
        super().__init__()
        self.sandbox = sandbox
        self.config = config
        self.seed = seed
        self.executions = 0
        self.files: dict[str, bytes] = {}

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def config_deserialize(cls, config: dict[str, Any]) -> BaseModel:
        return StochboxSandboxConfig.model_validate(config)

    @classmethod
    def default_concurrency(cls) -> int | None:
        return None  # samples share a pool of servers; executions queue for a free one

    @classmethod
    async def task_init(cls, task_name: str, config: SandboxEnvironmentConfigType | None) -> None:
        await asyncio.to_thread(POOLS.acquire, resolve_config(config))

    @classmethod
    async def sample_init(
        cls, task_name: str, config: SandboxEnvironmentConfigType | None, metadata: dict[str, str]
    ) -> dict[str, SandboxEnvironment]:
        resolved = resolve_config(config)
        sandbox = await asyncio.to_thread(POOLS.get, resolved)
        identity = json.dumps(metadata, sort_keys=True, default=str)
        return {"default": cls(sandbox, resolved, derive_seed(resolved.seed, "inspect", task_name, identity))}

    @classmethod
    async def sample_cleanup(
        cls,
        task_name: str,
        config: SandboxEnvironmentConfigType | None,
        environments: dict[str, SandboxEnvironment],
        interrupted: bool,
    ) -> None:
        for env in environments.values():
            if isinstance(env, StochboxSandboxEnvironment):
                env.files.clear()

    @classmethod
    async def task_cleanup(cls, task_name: str, config: SandboxEnvironmentConfigType | None, cleanup: bool) -> None:
        await asyncio.to_thread(POOLS.release, resolve_config(config))

    @classmethod
    async def cli_cleanup(cls, id: str | None) -> None:
        """``inspect sandbox cleanup stochbox``: remove Docker-backend containers whose owner process is gone
        (what ``stochbox sandbox cleanup`` does; the local jail leaves nothing behind)."""
        from stochbox.sandbox.factory import docker_engine_answers

        if docker_engine_answers():
            from stochbox.sandbox.docker_backend import cleanup_orphans

            await asyncio.to_thread(cleanup_orphans)

    # ------------------------------------------------------------------ execution

    def next_seed(self) -> int:
        seed = derive_seed(self.seed, "exec", self.executions)
        self.executions += 1
        return seed

    async def exec(
        self,
        cmd: list[str],
        input: str | bytes | None = None,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
        user: str | None = None,
        timeout: int | None = None,
        timeout_retry: bool = True,
        concurrency: bool = True,
    ) -> ExecResult[str]:
        if user is not None:
            raise SandboxUserUnsupportedError(
                f"the stochbox sandbox cannot run as {user!r}: code runs as the jail's unprivileged user"
            )
        env = dict(env or {})
        seed_text = env.pop(SEED_ENV, None)
        seed = self.next_seed() if seed_text is None else int(seed_text)
        code, globals_ = build_program(cmd, input=input, cwd=cwd, env=env, files=self.files)
        timeout_s = float(timeout) if timeout else self.config.timeout_s
        res = await self.sandbox.aexecute(
            code, timeout_s=timeout_s, seed=seed, output_cap=self.config.output_cap, globals_=globals_
        )
        if res.timed_out:
            raise TimeoutError(f"stochbox sandbox: {cmd[0]} exceeded its {timeout_s:g} s time limit and was killed")
        stderr = res.stderr
        notes = []
        if res.sandbox_error:
            notes.append(f"[stochbox: sandbox error: {res.sandbox_error}]")
        elif res.killed_reason:
            notes.append(f"[stochbox: killed: {res.killed_reason} limit]")
        if res.truncated:
            notes.append(f"[stochbox: output truncated at {self.config.output_cap} bytes]")
        if notes:
            stderr = (stderr.rstrip("\n") + "\n" if stderr.strip() else "") + "\n".join(notes) + "\n"
        returncode = res.exit_code if res.exit_code is not None else 1
        if returncode < 0:
            returncode = 128 - returncode  # killed by a signal, as a shell reports it
        return ExecResult(success=returncode == 0 and res.sandbox_error is None, returncode=returncode, stdout=res.stdout, stderr=stderr)

    async def write_file(self, file: str, contents: str | bytes) -> None:
        path = normalize_path(file)
        if any(existing.startswith(path + "/") for existing in self.files):
            raise IsADirectoryError(f"{file} is a directory")
        self.files[path] = contents.encode("utf-8") if isinstance(contents, str) else bytes(contents)

    @overload
    async def read_file(self, file: str, text: Literal[True] = True) -> str: ...

    @overload
    async def read_file(self, file: str, text: Literal[False]) -> bytes: ...

    async def read_file(self, file: str, text: bool = True) -> Union[str, bytes]:
        path = normalize_path(file)
        if path not in self.files:
            if any(existing.startswith(path + "/") for existing in self.files):
                raise IsADirectoryError(f"{file} is a directory")
            raise FileNotFoundError(
                f"{file}: not written with write_file in this sample (files a command creates are not kept)"
            )
        data = self.files[path]
        limit = int(os.environ.get("INSPECT_SANDBOX_MAX_READ_FILE_SIZE", 100 * 1024 * 1024))
        if len(data) > limit:
            raise OutputLimitExceededError(limit_str=f"{limit} bytes", truncated_output=None)
        return data.decode("utf-8") if text else data
