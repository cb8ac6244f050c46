"""Extract samples from what a model wrote, for every answer format.

Contract: :func:`parse_answer` never raises for anything a model writes. It
returns a :class:`ParsedAnswer` whose ``samples`` are valid (each normalised
by :func:`~stochbox.scenarios.samples.coerce_sample`, at most ``n`` of them)
and, when fewer than ``n`` were found, a ``reason`` a human can act on.
``strategy`` names the rule that produced the samples (recorded in the
trace, so a surprising parse can be audited).

Order of preference: JSON (the whole text, a fenced ``json`` block, or the
last JSON value in the text; ``{"answer": ...}`` / ``{"samples": [...]}``
wrappers are unwrapped), then a value after an answer marker (``answer:``,
``final answer is``, ``=``), then format-specific text rules (the last number;
the last label mentioned; the items in the order they appear). Reasoning in
``<think>`` blocks and code in fenced blocks is ignored.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from stochbox.agents.number_text import NumberToken, fold_text, number_tokens
from stochbox.scenarios.models import AnswerFormat, AnswerType
from stochbox.scenarios.samples import coerce_sample

#: Keys under which models wrap a single answer or a list of samples.
ANSWER_KEYS = ("answer", "sample", "value", "result", "final_answer", "choice", "label", "order", "vector")
SAMPLES_KEYS = ("samples", "answers", "values", "results", "draws")

_THINK = re.compile(r"<think>.*?(</think>|$)", re.S | re.I)
_FENCE = re.compile(r"```([A-Za-z0-9_+-]*)[ \t]*\n(.*?)(```|$)", re.S)
_MARKER = re.compile(
    r"\b(?:final\s+answer|answer|result|sample|i\s+(?:got|get|pick|choose|rolled|drew))\s*(?:is|was|:|=|-(?![\d.]))?\s*[:=]?\s*",  # a "-" before a digit is the sign
    re.I,
)


class ParsedAnswer(BaseModel):
    """Valid samples found in one answer (possibly fewer than requested)."""

    model_config = ConfigDict(frozen=True)

    samples: list[Any] = Field(default_factory=list)
    n_requested: int = 1
    reason: str | None = None
    strategy: str | None = None

    @property
    def ok(self) -> bool:
        return len(self.samples) == self.n_requested

    @property
    def partial(self) -> bool:
        return 0 < len(self.samples) < self.n_requested


def clean_text(text: str) -> str:
    """Text without reasoning blocks and without fenced code (non-JSON) blocks."""
    text = _THINK.sub(" ", text)
    return _FENCE.sub(lambda m: m.group(0) if m.group(1).lower() in ("json", "") and not _looks_like_code(m.group(2)) else " ", text)


def _looks_like_code(body: str) -> bool:
    return bool(re.search(r"^\s*(import |from |def |for |print\(|[a-z_]+\s*=)", body, re.M))


def _json_values(text: str) -> list[Any]:
    """JSON values in ``text``: the whole text, fenced blocks, then bracketed spans (last first)."""
    found: list[Any] = []
    stripped = text.strip()
    for candidate in [stripped] + [m.group(2) for m in _FENCE.finditer(text)]:
        try:
            found.append(json.loads(candidate.strip()))
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python recurses
            pass
    if found:
        return found
    decoder = json.JSONDecoder()
    spans: list[Any] = []
    i = 0
    attempts = 0
    while (i := _next_bracket(text, i)) >= 0 and attempts < _MAX_JSON_ATTEMPTS:
        attempts += 1
        try:
            value, end = decoder.raw_decode(text, i)
        except (ValueError, RecursionError):
            i += 1
            continue
        spans.append(value)
        i = end
    return list(reversed(spans))


#: Bracketed spans tried as JSON per reply: each failed try can read far ahead, so a long reply
#: of brackets (``[[[[...``) would otherwise take quadratic time.
_MAX_JSON_ATTEMPTS = 2000
_BRACKET = re.compile(r"[\[{]")


def _next_bracket(text: str, start: int) -> int:
    m = _BRACKET.search(text, start)
    return m.start() if m else -1


def _unwrap(value: Any, batch: bool) -> Any:
    if isinstance(value, dict):
        keys = {k.lower(): v for k, v in value.items() if isinstance(k, str)}
        for key in (SAMPLES_KEYS + ANSWER_KEYS) if batch else (ANSWER_KEYS + SAMPLES_KEYS):
            if key in keys:
                return keys[key]
        if len(value) == 1:
            return next(iter(value.values()))
    return value


def _coerce_loose(value: Any, fmt: AnswerFormat) -> Any:
    """coerce_sample, also accepting a one-element list for scalars and numeric strings (one number each)."""
    if fmt.type in (AnswerType.number, AnswerType.integer, AnswerType.label) and isinstance(value, list):
        if len(value) != 1:
            raise ValueError(f"a list of {len(value)} values where one is expected")
        value = value[0]
    if isinstance(value, str):
        value = fold_text(value)
    if fmt.type in (AnswerType.number, AnswerType.integer) and isinstance(value, str):
        tokens = number_tokens(value)
        if len(tokens) != 1 or tokens[0].value is None:
            why = tokens[0].refused if len(tokens) == 1 else f"{len(tokens)} numbers" if tokens else "no number"
            raise ValueError(f"not one number ({why}): {_snippet(value)}")
        value = tokens[0].value
    return coerce_sample(value, fmt)


def _numbers(text: str) -> list[float]:
    """The values stated in ``text`` (refused spans left out: see :mod:`stochbox.agents.number_text`)."""
    return [t.value for t in number_tokens(text) if t.value is not None]


def _one_number(tokens: list[NumberToken], fmt: AnswerFormat, where: str) -> tuple[Any, str]:
    """The sample a single token states; ValueError when it is refused or one of a list."""
    token = tokens[0] if where == "marker" else tokens[-1]
    if token.value is None:
        raise ValueError(f"{token.text!r} is not read as a number: {token.refused}")
    if sum(t.group == token.group for t in tokens) > 1:
        raise ValueError(f"a list of numbers where one is expected (at {token.text!r})")
    return coerce_sample(token.value, fmt), f"text:{where}"


def _after_marker(text: str) -> str | None:
    """The text after the last answer marker, or None."""
    last = None
    for m in _MARKER.finditer(text):
        last = m
    return None if last is None else text[last.end() :]


def _labels_in(text: str, labels: list[str]) -> list[tuple[int, str]]:
    hits = []
    for lab in labels:
        for m in re.finditer(rf"(?<![\w-]){re.escape(lab)}(?![\w-])", text, re.I):
            hits.append((m.start(), lab))
    return sorted(hits)


def _items_in(text: str, items: list[Any]) -> list[Any]:
    hits = []
    for it in items:
        for m in re.finditer(rf"(?<![\w]){re.escape(str(it))}(?![\w])", text):
            hits.append((m.start(), it))
    return [it for _, it in sorted(hits)]


def _one_from_text(text: str, fmt: AnswerFormat, *, marker_only: bool = False) -> tuple[Any, str]:
    """One sample by format-specific text rules; raises ValueError with a reason.

    ``marker_only``: use only the text after an answer marker (when the answer
    held JSON that was not a valid sample, guessing from the rest would be unsafe).
    """
    t = fmt.type
    segment = _after_marker(text)
    if marker_only:
        if segment is None:
            raise ValueError("no valid sample")
        text = segment
    if t in (AnswerType.number, AnswerType.integer):
        tokens = number_tokens(text)
        if segment is not None:  # the first number after the last marker
            after = [tok for tok in tokens if tok.start >= len(text) - len(segment)]
            if after:
                return _one_number(after, fmt, "marker")
            if any(ch.isdigit() for ch in segment):  # "ANSWER: 0x10": refused, not a number from elsewhere
                raise ValueError("no readable number after the answer marker")
        if tokens:
            return _one_number(tokens, fmt, "last_number")
        raise ValueError("no number in the answer")
    if t is AnswerType.label:
        labels = fmt.labels or []
        for where, seg in (("marker", segment), ("last_label", text)):
            if seg is None:
                continue
            hits = _labels_in(seg, labels)
            if hits:
                lab = hits[0][1] if where == "marker" else hits[-1][1]
                return lab, f"text:{where}"
        raise ValueError(f"none of the labels {labels} in the answer")
    if t is AnswerType.vector:
        for where, seg in (("marker", segment), ("numbers", text)):
            if seg is None:
                continue
            nums = _numbers(seg)
            if len(nums) >= (fmt.dim or 0):
                return coerce_sample(nums[: fmt.dim] if where == "marker" else nums[-(fmt.dim or 0) :], fmt), f"text:{where}"
        raise ValueError(f"fewer than {fmt.dim} numbers in the answer")
    if t is AnswerType.list:
        items = fmt.items or []
        for where, seg in (("marker", segment), ("items", text)):
            if seg is None:
                continue
            found = _items_in(seg, items)
            tail = found[-len(items) :] if where == "items" else found[: len(items)]
            if len(tail) == len(items):
                try:
                    return coerce_sample(tail, fmt), f"text:{where}"
                except ValueError:
                    continue
        raise ValueError(f"no ordering of {items} in the answer")
    raise ValueError(f"unknown answer type {t}")


def parse_value(value: Any, fmt: AnswerFormat, n: int = 1) -> ParsedAnswer:
    """Samples from an already-structured value (tool-call arguments, structured output)."""
    batch = n > 1
    value = _unwrap(value, batch)
    if isinstance(value, str):
        return parse_answer(value, fmt, n)
    if not batch:
        try:
            return ParsedAnswer(samples=[_coerce_loose(value, fmt)], n_requested=1, strategy="structured")
        except ValueError as exc:
            return ParsedAnswer(n_requested=1, reason=str(exc), strategy="structured")
    return _batch_from_list(value, fmt, n, "structured")


def _batch_from_list(value: Any, fmt: AnswerFormat, n: int, strategy: str) -> ParsedAnswer:
    if not isinstance(value, list):
        return ParsedAnswer(n_requested=n, reason=f"expected a JSON list of {n} samples, got {type(value).__name__}", strategy=strategy)
    good, bad = [], []
    for i, v in enumerate(value):
        try:
            good.append(_coerce_loose(v, fmt))
        except ValueError as exc:
            bad.append(f"#{i}: {exc}")
    reason = None
    if len(good) < n:
        reason = f"{len(good)} valid of {n} requested"
        if bad:
            reason += f"; invalid {', '.join(bad[:3])}" + (f" and {len(bad) - 3} more" if len(bad) > 3 else "")
    elif len(good) > n:
        reason = None  # extras beyond n are ignored, first n kept
    return ParsedAnswer(samples=good[:n], n_requested=n, reason=reason, strategy=strategy)


def parse_answer(text: str | None, fmt: AnswerFormat, n: int = 1) -> ParsedAnswer:
    """Up to ``n`` valid samples from free text; see the module docstring for the rules."""
    if text is None or not str(text).strip():
        return ParsedAnswer(n_requested=n, reason="empty answer")
    text = fold_text(clean_text(str(text)))
    if not text.strip():
        return ParsedAnswer(n_requested=n, reason="answer contains only code or reasoning, no value")
    batch = n > 1
    json_reason = None
    for value in _json_values(text):
        value = _unwrap(value, batch)
        if batch:
            if isinstance(value, list):
                res = _batch_from_list(value, fmt, n, "json")
                if res.samples:
                    return res
                json_reason = res.reason
            continue
        try:
            return ParsedAnswer(samples=[_coerce_loose(value, fmt)], n_requested=1, strategy="json")
        except ValueError as exc:
            json_reason = json_reason or str(exc)
    if batch:
        return _batch_from_lines(text, fmt, n, json_reason)
    try:
        sample, strategy = _one_from_text(text, fmt, marker_only=json_reason is not None)
    except ValueError as exc:
        reason = str(exc) if json_reason is None else f"{exc} (JSON found but invalid: {json_reason})"
        return ParsedAnswer(n_requested=1, reason=f"{reason}: {_snippet(text)}")
    return ParsedAnswer(samples=[sample], n_requested=1, strategy=strategy)


def _batch_from_lines(text: str, fmt: AnswerFormat, n: int, json_reason: str | None) -> ParsedAnswer:
    """Batch fallback without JSON: scalars from all numbers/labels, else one sample per line."""
    if fmt.type in (AnswerType.number, AnswerType.integer):
        segment = _after_marker(text) or text
        values = _numbers(segment)
        res = _batch_from_list(values, fmt, n, "text:numbers")
    elif fmt.type is AnswerType.label:
        res = _batch_from_list([lab for _, lab in _labels_in(text, fmt.labels or [])], fmt, n, "text:labels")
    else:
        samples = []
        for line in text.splitlines():
            try:
                samples.append(_one_from_text(line, fmt)[0])
            except ValueError:
                continue
        res = _batch_from_list(samples, fmt, n, "text:lines")
    if not res.samples:
        why = json_reason or f"no JSON list of {n} samples"
        return ParsedAnswer(n_requested=n, reason=f"{why}: {_snippet(text)}")
    return res


def _snippet(text: str, limit: int = 80) -> str:
    flat = " ".join(text.split())
    return repr(flat if len(flat) <= limit else flat[: limit - 3] + "...")


def sample_json_schema(fmt: AnswerFormat) -> dict[str, Any]:
    """JSON schema of one sample (used for structured output and the ``submit`` tool)."""
    t = fmt.type
    if t is AnswerType.number:
        return {"type": "number"}
    if t is AnswerType.integer:
        return {"type": "integer"}
    if t is AnswerType.label:
        return {"type": "string", "enum": list(fmt.labels or [])}
    if t is AnswerType.vector:
        elem = "integer" if fmt.element == "integer" else "number"
        return {"type": "array", "items": {"type": elem}, "minItems": fmt.dim, "maxItems": fmt.dim}
    items = list(fmt.items or [])
    return {"type": "array", "items": {"enum": items}, "minItems": len(items), "maxItems": len(items)}


def answer_json_schema(fmt: AnswerFormat, n: int = 1) -> dict[str, Any]:
    """``{"answer": sample}`` for one sample, ``{"samples": [n samples]}`` for a batch."""
    if n == 1:
        return {"type": "object", "properties": {"answer": sample_json_schema(fmt)}, "required": ["answer"]}
    samples = {"type": "array", "items": sample_json_schema(fmt), "minItems": n, "maxItems": n}
    return {"type": "object", "properties": {"samples": samples}, "required": ["samples"]}
