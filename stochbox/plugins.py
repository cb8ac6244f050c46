"""Plug-in registries: one per kind of plug-in (sandbox backends, model prefixes, executors).

A built-in plug-in is registered once, by a decorator on its factory::

    SANDBOXES = Registry("sandbox backend", group="stochbox.sandboxes")

    @SANDBOXES.register("docker", help="hardened containers")
    def open_docker(spec): ...

Another distribution adds one through an entry point of the registry's group
(``[project.entry-points."stochbox.sandboxes"] mybox = "mypkg.box:open_mybox"``),
pointing at a factory with the same signature as the built-ins'. The same
:class:`Registry` feeds the command-line help (:meth:`Registry.names`), the
config validation (``name in registry``) and the factory
(:meth:`Registry.factory`), so adding a plug-in never means editing a list
somewhere else.

Contract: built-in names come first, in registration order, then entry-point
names in sorted order; a built-in name wins over an entry point of the same
name. Entry points are listed without importing them; one is loaded (its
module imported) the first time its factory is asked for. The entry points
are read again whenever ``sys.path`` changes.
"""

from __future__ import annotations

import importlib.metadata
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Plugin(Generic[F]):
    """One registered name: its factory (None until an entry point is loaded) and what it declared."""

    name: str
    factory: F | None
    help: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    entry_point: importlib.metadata.EntryPoint | None = None


_scanned: tuple[tuple[str, ...], importlib.metadata.EntryPoints] | None = None


def _entry_points(group: str) -> importlib.metadata.EntryPoints:
    """The installed entry points of ``group``; one scan of the installed distributions per ``sys.path``."""
    global _scanned
    key = tuple(sys.path)
    if _scanned is None or _scanned[0] != key:
        _scanned = (key, importlib.metadata.entry_points())
    return _scanned[1].select(group=group)


class Registry(Generic[F]):
    """Named factories of one kind of plug-in; see the module contract."""

    def __init__(self, kind: str, *, group: str) -> None:
        self.kind = kind
        self.group = group
        self._builtin: dict[str, Plugin[F]] = {}
        self._entry_points: tuple[tuple[str, ...], dict[str, Plugin[F]]] | None = None
        self._loaded: dict[str, F] = {}

    def register(self, name: str, *, help: str = "", **info: Any) -> Callable[[F], F]:
        """Decorator: register the decorated factory under ``name`` (``help`` and ``info`` describe it)."""

        def add(factory: F) -> F:
            if name in self._builtin:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            self._builtin[name] = Plugin(name, factory, help, dict(info))
            return factory

        return add

    def _from_entry_points(self) -> dict[str, Plugin[F]]:
        key = tuple(sys.path)
        if self._entry_points is None or self._entry_points[0] != key:
            found = {
                ep.name: Plugin(ep.name, None, entry_point=ep)
                for ep in sorted(_entry_points(self.group), key=lambda ep: ep.name)
                if ep.name not in self._builtin
            }
            self._entry_points = (key, found)
            self._loaded.clear()
        return self._entry_points[1]

    def builtins(self) -> list[Plugin[F]]:
        """The plug-ins registered by decorator, in registration order (no entry points)."""
        return list(self._builtin.values())

    def plugins(self) -> list[Plugin[F]]:
        """Every plug-in: built-ins in registration order, then entry points by name."""
        return [*self._builtin.values(), *self._from_entry_points().values()]

    def names(self) -> list[str]:
        return [p.name for p in self.plugins()]

    def __iter__(self) -> Iterator[str]:
        """The names, as :meth:`names` lists them."""
        return iter(self.names())

    def __contains__(self, name: object) -> bool:
        return name in self._builtin or name in self._from_entry_points()

    def get(self, name: str) -> Plugin[F] | None:
        return self._builtin.get(name) or self._from_entry_points().get(name)

    def factory(self, name: str) -> F | None:
        """The factory registered as ``name`` (an entry point is imported now), or None for an unknown name.

        An entry point that cannot be imported raises its ImportError (or whatever its module raises)."""
        plugin = self.get(name)
        if plugin is None:
            return None
        if plugin.factory is not None:
            return plugin.factory
        if name not in self._loaded:
            assert plugin.entry_point is not None
            self._loaded[name] = plugin.entry_point.load()
        return self._loaded[name]
