"""The scenarios the library checks iterate over: every scenario of every built-in pack."""

from __future__ import annotations

import pytest

from stochbox.scenarios import Scenario, builtin_pack_names, get_pack


def library_scenarios() -> list[Scenario]:
    """Every scenario of every built-in pack that loads (a pack that does not fails its validate test)."""
    out: list[Scenario] = []
    for name in builtin_pack_names():
        try:
            out.extend(get_pack(name).scenarios)
        except Exception:  # noqa: BLE001 -- reported by test_pack_validates with every problem listed
            continue
    return out


def library_params() -> list:
    """``pytest.param(scenario, id="<pack>/<id>")`` for each library scenario."""
    return [pytest.param(sc, id=f"{sc.pack}/{sc.id}") for sc in library_scenarios()]
