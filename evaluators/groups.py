"""Groups of scenarios: by kind, support and tag (for comparisons), by tag prefix (for the paper's tables).

Contract:

* :func:`scenario_groups` names every group a scenario belongs to:
  ``kind:<kind>``, ``support:<support>`` and ``tag:<tag>`` for each of its
  tags (what ``compare`` breaks its results down by).
* Tags are ``prefix:value`` strings (``group:code_explicit_concentrated``,
  ``family:normal``). :func:`group_by_tag` maps each value of one prefix to
  the ids of the scenarios carrying it, values sorted, ids in run order; a
  scenario with several values of the prefix is in each of their groups;
  scenarios with none are under ``None`` (last), so every scenario is in at
  least one group.
* :func:`summarize_by_tag` gives one :class:`TagSummary` per value: KS@N of
  that group's scenarios with the same 95% Wilson interval as the main
  summary (:func:`~stochbox.evaluators.summary.summarize`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stochbox.errors import ConfigError
from stochbox.evaluators.models import KSAtNSummary, ScenarioTestResult
from stochbox.evaluators.summary import summarize
from stochbox.scenarios.models import Scenario


class TagSummary(KSAtNSummary):
    """KS@N of one (model, mode) over the scenarios tagged ``<tag>:<value>`` (``value`` None: untagged)."""

    tag: str
    value: str | None


def scenario_groups(kind: str, support: str, tags: Sequence[str]) -> list[str]:
    """Every group name of one scenario: ``kind:...``, ``support:...``, ``tag:...`` per tag."""
    return [f"kind:{kind}", f"support:{support}", *(f"tag:{t}" for t in tags)]


def tag_prefix(prefix: str) -> str:
    """``group`` or ``group:`` -> ``group``; ConfigError for an empty prefix."""
    name = prefix.strip().removesuffix(":")
    if not name:
        raise ConfigError("--by-tag needs a tag prefix, e.g. --by-tag group (for tags like group:code_explicit)")
    return name


def group_by_tag(scenarios: Sequence[Scenario], prefix: str) -> dict[str | None, list[str]]:
    """Tag value -> scenario ids (see the module contract). ConfigError when no scenario has such a tag."""
    name = tag_prefix(prefix)
    groups: dict[str | None, list[str]] = {}
    untagged: list[str] = []
    for sc in scenarios:
        values = sorted({t.split(":", 1)[1] for t in sc.tags if t.startswith(name + ":")})
        for v in values:
            groups.setdefault(v, []).append(sc.id)
        if not values:
            untagged.append(sc.id)
    if not groups:
        known = sorted({t.split(":", 1)[0] for sc in scenarios for t in sc.tags if ":" in t})
        raise ConfigError(
            f"--by-tag {name}: no scenario of the run has a tag '{name}:...'",
            hint=f"tag prefixes in this run: {', '.join(known) or 'none'}",
        )
    out: dict[str | None, list[str]] = {v: groups[v] for v in sorted(groups)}
    if untagged:
        out[None] = untagged
    return out


def summarize_by_tag(
    results: Sequence[ScenarioTestResult],
    scenarios: Sequence[Scenario],
    prefix: str,
    *,
    parse_rate: Callable[[list[str]], float],
) -> list[TagSummary]:
    """KS@N per value of tag ``prefix`` over ``results`` (one (model, mode, N, preset)).

    ``parse_rate(ids)`` gives the parse rate of the arm over those scenario ids.
    """
    name = tag_prefix(prefix)
    by_id = {r.scenario: r for r in results}
    out = []
    for value, ids in group_by_tag(scenarios, name).items():
        group = [by_id[i] for i in ids if i in by_id]
        if group:
            s = summarize(group, parse_rate=parse_rate(ids))
            out.append(TagSummary(**s.model_dump(), tag=name, value=value))
    return out
