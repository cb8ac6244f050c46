"""Valid Unicode for text that comes from outside stochbox.

Contract: :func:`valid_unicode` returns ``(text, replaced)``: ``text`` encodes
as UTF-8 (every lone UTF-16 surrogate, the only code points a Python ``str``
may hold that UTF-8 cannot, is replaced by U+FFFD; a high surrogate followed
by a low one is joined into the character they encode), and ``replaced`` is
how many code points were replaced. Valid text comes back unchanged (the same
object) with 0. :func:`valid_unicode_data` does the same for every string
(keys included) inside JSON-like data (dicts, lists, tuples).

Applied where outside text enters: model replies, tool-call arguments and
reasoning (:mod:`stochbox.agents.ledger`), sandbox output. The count is
recorded on the trace event as ``unicode_replaced``. A provider sends a lone
surrogate as a valid JSON escape (``"\\ud83c"``) when ``max_tokens`` or a
tokenizer cuts a multi-byte character; SQLite, orjson and pydantic refuse such
a string, so one reply would otherwise stop the run.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"

_PAIR = re.compile("[\ud800-\udbff][\udc00-\udfff]")
_LONE = re.compile("[\ud800-\udfff]")


def _join_pair(m: re.Match[str]) -> str:
    hi, lo = m.group(0)
    return chr(0x10000 + ((ord(hi) - 0xD800) << 10) + (ord(lo) - 0xDC00))


def valid_unicode(text: str) -> tuple[str, int]:
    """``text`` with every lone surrogate replaced by U+FFFD, and how many were replaced."""
    if text.isascii():
        return text, 0
    try:
        text.encode("utf-8")
        return text, 0
    except UnicodeEncodeError:
        pass
    text = _PAIR.sub(_join_pair, text)
    return _LONE.subn(REPLACEMENT, text)


def valid_unicode_data(value: Any) -> tuple[Any, int]:
    """``value`` with :func:`valid_unicode` applied to every string in it (dict keys too); the total count.

    Containers are rebuilt only where something was replaced."""
    if isinstance(value, str):
        return valid_unicode(value)
    if isinstance(value, dict):
        total = 0
        out: dict[Any, Any] = {}
        for k, v in value.items():
            k2, nk = valid_unicode_data(k)
            v2, nv = valid_unicode_data(v)
            out[k2] = v2
            total += nk + nv
        return (out, total) if total else (value, 0)
    if isinstance(value, (list, tuple)):
        items = [valid_unicode_data(v) for v in value]
        total = sum(n for _, n in items)
        if not total:
            return value, 0
        rebuilt = [v for v, _ in items]
        return (tuple(rebuilt) if isinstance(value, tuple) else rebuilt), total
    return value, 0
