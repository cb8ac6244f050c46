"""Where the tools offered in an episode come from: built-ins, the scenario's pack, entry points.

:func:`available_tools` merges the three sources (see :mod:`stochbox.agents.tools`
for the :class:`~stochbox.agents.tools.Tool` contract) in a stable order; a
scenario's ``tools:`` list restricts what is offered.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

from stochbox.agents.pack_tools import load_pack_tools
from stochbox.agents.tools import BUILTIN_TOOLS, SUBMIT, Tool
from stochbox.errors import ScenarioError
from stochbox.scenarios.models import Scenario

ENTRY_POINT_GROUP = "stochbox.tools"


def entry_point_tools() -> dict[str, Tool]:
    """Tools installed by other distributions under the ``stochbox.tools`` entry-point group."""
    out: dict[str, Tool] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        obj = ep.load()
        tool = obj() if callable(obj) else obj
        if not isinstance(tool, Tool):
            raise ScenarioError(
                f"entry point '{ep.name} = {ep.value}' in group '{ENTRY_POINT_GROUP}' did not give a stochbox Tool",
                hint="point it at a Tool subclass or a factory returning a Tool instance",
            )
        out[tool.name] = tool
    return out


def pack_folder(scenario: Scenario) -> Path | None:
    """The pack folder a scenario was loaded from (None for scenarios built in code)."""
    if not scenario.source:
        return None
    folder = Path(scenario.source).parent
    return folder if (folder / "pack.yaml").is_file() else None


def available_tools(scenario: Scenario) -> dict[str, Tool]:
    """The tools offered for ``scenario`` (name -> tool), in a stable order: built-ins, pack, entry points.

    Raises :class:`ScenarioError` when the scenario's ``tools:`` names a tool that exists nowhere.
    """
    tools: dict[str, Tool] = {name: cls() for name, cls in BUILTIN_TOOLS.items()}
    folder = pack_folder(scenario)
    if folder is not None:
        tools.update(load_pack_tools(folder))
    for name, tool in entry_point_tools().items():
        tools.setdefault(name, tool)
    if scenario.tools is None:
        return tools
    unknown = [t for t in scenario.tools if t not in tools and t != SUBMIT]
    if unknown:
        raise ScenarioError(
            f"unknown tool(s) {', '.join(unknown)}",
            file=scenario.source,
            field="tools",
            hint=f"available: {', '.join(tools)}",
        )
    return {name: tool for name, tool in tools.items() if name in scenario.tools}
