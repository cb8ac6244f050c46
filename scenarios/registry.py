"""Find packs: built-in ones shipped in ``stochbox/scenarios/packs`` and paths.

Contract: ``resolve_packs(names_or_paths)`` accepts built-in pack names and
folder paths alike; ``None`` means every built-in pack. Unknown names raise
:class:`~stochbox.errors.UnknownScenarioError` listing what exists.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from stochbox.errors import UnknownScenarioError
from stochbox.scenarios.loader import PACK_FILE, load_pack
from stochbox.scenarios.models import Pack, Scenario

BUILTIN_DIR = Path(__file__).parent / "packs"


def builtin_pack_names() -> list[str]:
    return sorted(p.name for p in BUILTIN_DIR.iterdir() if (p / PACK_FILE).is_file())


@lru_cache(maxsize=None)
def _load_builtin(name: str) -> Pack:
    return load_pack(BUILTIN_DIR / name)


def get_pack(name_or_path: str | Path) -> Pack:
    s = str(name_or_path)
    if s in builtin_pack_names():
        return _load_builtin(s)
    path = Path(s).expanduser()
    if path.is_dir():
        return load_pack(path)
    raise UnknownScenarioError(
        f"unknown pack '{s}'",
        hint=f"built-in packs: {', '.join(builtin_pack_names())}; or give a folder with pack.yaml",
    )


def resolve_packs(names_or_paths: list[str] | None) -> list[Pack]:
    names = names_or_paths or builtin_pack_names()
    return [get_pack(n) for n in names]


def select_scenarios(packs: list[Pack], ids: list[str] | None = None) -> list[Scenario]:
    """Scenarios of ``packs``, optionally only ``ids`` (in the order given)."""
    every = {s.id: s for p in packs for s in p.scenarios}
    if not ids:
        return [s for p in packs for s in p.scenarios]
    missing = [i for i in ids if i not in every]
    if missing:
        raise UnknownScenarioError(
            f"unknown scenario id(s): {', '.join(missing)}",
            hint="list them with: stochbox scenarios list",
        )
    return [every[i] for i in ids]


def find_scenario(scenario_id: str, packs: list[str] | None = None) -> Scenario:
    return select_scenarios(resolve_packs(packs), [scenario_id])[0]
