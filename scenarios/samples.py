"""Check and normalise one sample against a scenario's answer format.

Contract: ``coerce_sample(value, fmt)`` returns the canonical form of a sample
(float for ``number``, int for ``integer``, str for ``label``, list of
float/int for ``vector``, list of items for ``list``) or raises
``ValueError`` with a short reason. It is used on ground-truth output, on
parsed model answers and by evaluators, so all agree on what is valid.
Non-finite numbers are invalid.
"""

from __future__ import annotations

import math
from typing import Any

from stochbox.scenarios.models import AnswerFormat, AnswerType, item_key


def _number(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        if isinstance(v, str):
            try:
                v = float(v.strip())
            except ValueError:
                raise ValueError(f"not a number: {v!r}") from None
        else:
            raise ValueError(f"not a number: {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"not finite: {v!r}")
    return f


def _integer(v: Any) -> int:
    f = _number(v)
    if f != int(f):
        raise ValueError(f"not an integer: {v!r}")
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    return int(f)


def coerce_sample(value: Any, fmt: AnswerFormat) -> Any:
    t = fmt.type
    if t is AnswerType.number:
        return _number(value)
    if t is AnswerType.integer:
        return _integer(value)
    if t is AnswerType.label:
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            # labels that are numerals ("1", "2.5") may be answered as numbers
            value = str(int(value)) if float(value).is_integer() else str(value)
        if not isinstance(value, str):
            raise ValueError(f"not a label: {value!r}")
        v = value.strip()
        if v in fmt.labels:  # type: ignore[operator]
            return v
        lowered = {lab.lower(): lab for lab in fmt.labels or []}
        if v.lower() in lowered:
            return lowered[v.lower()]
        raise ValueError(f"label {value!r} not in {fmt.labels}")
    if t is AnswerType.vector:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"not a vector: {value!r}")
        if len(value) != fmt.dim:
            raise ValueError(f"vector has {len(value)} components, expected {fmt.dim}")
        conv = _integer if fmt.element == "integer" else _number
        return [conv(x) for x in value]
    if t is AnswerType.list:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"not a list: {value!r}")
        items = fmt.items or []
        by_str = {str(i): i for i in items}
        by_key = {item_key(i): i for i in items}
        out = []
        for x in value:
            if isinstance(x, str) and x.strip() in by_str:
                out.append(by_str[x.strip()])
            elif not isinstance(x, (list, dict)) and item_key(x) in by_key:
                out.append(by_key[item_key(x)])
            elif not isinstance(x, (list, dict)) and str(x).strip() in by_str:
                out.append(by_str[str(x).strip()])
            else:
                raise ValueError(f"unknown item {x!r}; items are {items}")
        if len(out) != len(items) or len({item_key(i) for i in out}) != len(items):
            raise ValueError(f"not a permutation of {items}: {value!r}")
        return out
    raise ValueError(f"unknown answer type {t}")
