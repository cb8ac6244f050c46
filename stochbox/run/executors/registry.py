"""The executors by name (``--executor NAME``): one :class:`~stochbox.plugins.Registry`.

Each built-in is registered once, below, by a factory that imports its
executor only when called. A factory takes, as keyword arguments, the
run-config options its executor declared (``options={field: command-line
option}``), and returns an :class:`~stochbox.run.executors.base.Executor`.
Third-party executors come from the entry-point group ``stochbox.executors``:
a zero-argument factory (or an Executor subclass); the run config has no
options of theirs.

:data:`EXECUTORS` feeds the ``--executor`` help, the validation of
``RunConfig.executor`` (and of the options that belong to one executor,
:data:`EXECUTOR_OPTIONS`) and :func:`make_executor`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stochbox.errors import ConfigError
from stochbox.plugins import Registry
from stochbox.run.executors.base import Executor, LocalExecutor

ExecutorFactory = Callable[..., Executor]

EXECUTORS: Registry[ExecutorFactory] = Registry("executor", group="stochbox.executors")


@EXECUTORS.register("local", help="asyncio in this process, default")
def local_executor() -> Executor:
    return LocalExecutor()


@EXECUTORS.register("processes", help="worker processes on this machine: all its cores", options={"workers": "--workers"})
def process_executor(workers: int | None = None) -> Executor:
    from stochbox.run.executors.processes import ProcessExecutor

    return ProcessExecutor(workers)


@EXECUTORS.register("ray", help="a Ray cluster; the [ray] extra", options={"ray_address": "--ray-address"})
def ray_executor(ray_address: str | None = None) -> Executor:
    from stochbox.run.executors.ray import RayExecutor

    return RayExecutor(address=ray_address)


#: Options that only one executor takes: run-config field -> (command-line option, that executor).
EXECUTOR_OPTIONS = {field: (option, p.name) for p in EXECUTORS.builtins() for field, option in p.info.get("options", {}).items()}


def executors_help() -> str:
    """``local (...) | processes (...) | ...``: the registered executors, for ``--executor``'s help."""
    return " | ".join(f"{p.name} ({p.help})" if p.help else p.name for p in EXECUTORS.plugins())


def executor_needed(field: str, value: object, executor: str) -> str | None:
    """The executor ``field`` set to ``value`` needs, when it is not ``executor`` (None when they go together)."""
    owner = EXECUTOR_OPTIONS[field][1]
    return owner if value is not None and executor != owner else None


def make_executor(name: str = "local", **options: Any) -> Executor:
    """The executor for ``--executor NAME`` given the run-config ``options`` of :data:`EXECUTOR_OPTIONS`
    (``workers=``, ``ray_address=``; None: not given). ConfigError for an unknown name or a misplaced option,
    MissingExtraError without ray."""
    for field, value in options.items():
        if field not in EXECUTOR_OPTIONS:
            raise TypeError(f"make_executor() got an unknown option '{field}'")
        if owner := executor_needed(field, value, name):
            raise ConfigError(f"{EXECUTOR_OPTIONS[field][0]} needs --executor {owner}")
    plugin = EXECUTORS.get(name)
    if plugin is None:
        raise ConfigError(f"--executor must be one of {', '.join(EXECUTORS.names())}, not '{name}'")
    factory = EXECUTORS.factory(name)
    assert factory is not None
    executor = factory(**{k: v for k, v in options.items() if k in plugin.info.get("options", {})})
    if not isinstance(executor, Executor):
        raise ConfigError(
            f"executor '{name}' (entry point in group '{EXECUTORS.group}') did not give a stochbox Executor",
            hint="point the entry point at an Executor subclass or a factory returning one",
        )
    return executor
