"""Numbers as a reply writes them: normalisation and a tokenizer that refuses what it cannot read exactly.

Contract (the parser's contract in docs/models.md rests on it):

* :func:`fold_text` maps compatibility forms to ASCII so that what a reader
  sees as ``3.5`` is read as 3.5: every character whose NFKC form is ASCII
  and whose compatibility tag is ``<wide>``, ``<narrow>``, ``<font>``,
  ``<small>`` or ``<noBreak>`` (full-width ``３．５``, mathematical bold
  digits, small and no-break forms) becomes that form; a decimal digit of
  any script becomes its ASCII digit; U+2212 MINUS SIGN becomes ``-``; the
  Arabic decimal and thousands separators become ``.`` and ``,``. Nothing
  else changes: full NFKC would turn ``10²`` into ``102`` and ``3½`` into
  ``31⁄2``, numbers the reply does not state.
* :func:`number_tokens` returns every number-like span of folded text, in
  order, as a :class:`NumberToken` whose ``value`` is what the span states
  or ``None`` with a ``refused`` reason. A span states one value when it is
  a decimal (sign, digits, point, exponent), a decimal with valid
  thousands commas (``1,234,567.5``) or a fraction of two integers
  (``7/2`` is 3.5). It is refused when its value is not what it looks like
  on its own: glued to other numeric characters (``10²``, ``3½``), several points or a time (``1.2.3``,
  ``12:30``), a percentage (``50%``), a scale word (``2.5 million``), part
  of an expression or range (``2+3``, ``3-5``, ``3 × 10^4``, ``3.5 ± 0.2``,
  ``3–5``). Commas that are not thousands separators separate a list
  (``3,5`` is 3 and 5, never 3.5 or 35).
* Digits inside a word (``d6``, ``mp3``, ``x2``, ``5kg``, ``0x10``) are
  not numbers: no token at all.
* ``group`` numbers tokens that form one list: the same comma run, or
  consecutive tokens separated only by spaces, ``,``, ``;``, ``and``,
  ``or`` or ``to``. A reply that must hold one value and gives a list is
  refused by the parser.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_FOLD_TAGS = ("<wide>", "<narrow>", "<font>", "<small>", "<noBreak>")
_SPECIAL = {0x2212: "-", 0x066B: ".", 0x066C: ","}


class _Folding(dict[int, str]):
    """str.translate table computed per code point on first use."""

    def __missing__(self, cp: int) -> str:
        ch = chr(cp)
        out = ch
        if cp in _SPECIAL:
            out = _SPECIAL[cp]
        elif unicodedata.category(ch) == "Nd":
            out = str(unicodedata.decimal(ch))
        elif unicodedata.decomposition(ch).startswith(_FOLD_TAGS):
            folded = unicodedata.normalize("NFKC", ch)
            if folded.isascii():
                out = folded
        self[cp] = out
        return out


_FOLDING = _Folding()


def fold_text(text: str) -> str:
    """``text`` with compatibility forms of ASCII and digits of every script as ASCII (see the module contract)."""
    return text if text.isascii() else text.translate(_FOLDING)


_ATOM = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
_RUN = re.compile(rf"([-+]?)({_ATOM}(?:,{_ATOM})*(?:/[-+]?{_ATOM})*)")
_THOUSANDS = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?(?:[eE][-+]?[0-9]+)?")
_INTEGER = re.compile(r"[0-9]+")
#: Characters that continue a number in a way this tokenizer does not read (superscripts, fractions, ...).
_NUMERIC_MARKS = re.compile(r"[\u00b2\u00b3\u00b9\u00bc-\u00be\u2070-\u209f\u2150-\u218b\u2460-\u24ff\u2776-\u2793]")
_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015"
_OPERATORS = {"+", "-", "*", "**", "×", "x", "X", "/", "÷", "^", "±", "·", "−", "\u2013", "\u2014"}
_AFTER_PERCENT = re.compile(r"\s?[%‰]")
_AFTER_SCALE = re.compile(r"\s+(?:hundred|thousand|million|billion|trillion|quadrillion)s?\b", re.I)
_AFTER_POWER = re.compile(r"\s*(?:\*\*|\^)")
_SEPARATED_AFTER = re.compile(r"[.,:]+[-+]?[0-9]")
_SEPARATED_BEFORE = re.compile(r"[0-9][.,:]+$")
_LIST_GAP = re.compile(r"\s*(?:[,;]|and|or|to)?\s*", re.I)


@dataclass
class NumberToken:
    """One number-like span: ``value`` it states, or ``refused`` saying why it states none."""

    start: int
    end: int
    text: str
    value: float | None
    refused: str | None = None
    group: int = 0
    signed: bool = False


def _in_word(text: str, start: int, end: int) -> bool:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    return before.isalpha() or after.isalpha() or "_" in (before, after)


def _glued(text: str, start: int, end: int) -> str | None:
    before = text[start - 1] if start > 0 else ""
    after = text[end] if end < len(text) else ""
    nxt = text[end + 1 : end + 3].lstrip("+-")[:1]  # a digit after the separator, signed or not
    if after and after in "+-" and nxt.isdigit():
        return "part of an expression or range"
    if before and (before.isalnum() or before in "._/+-" or _NUMERIC_MARKS.match(before) or before in _DASHES):
        return "glued to the text before it"
    if after and (after.isalnum() or after in "_/+-" or _NUMERIC_MARKS.match(after) or after in _DASHES):
        return "glued to the text after it"
    if _SEPARATED_AFTER.match(text, end):
        return "followed by another separator and digits"
    if _SEPARATED_BEFORE.search(text, max(0, start - 16), start):
        return "continues the number before it"
    return None


def _span_value(body: str) -> tuple[list[float], str | None]:
    """Values a span's body (without sign) states: one for a number or fraction, several for a comma list."""
    if "/" in body:
        parts = body.split("/")
        if len(parts) != 2 or not all(_INTEGER.fullmatch(p) for p in parts):
            return [], "not a fraction of two integers"
        if int(parts[1]) == 0:
            return [], "division by zero"
        return [int(parts[0]) / int(parts[1])], None
    if "," in body:
        if _THOUSANDS.fullmatch(body):
            return [float(body.replace(",", ""))], None
        return [float(p) for p in body.split(",")], None
    return [float(body)], None


def number_tokens(text: str) -> list[NumberToken]:
    """Number-like spans of ``text`` (already folded) in order; see the module contract."""
    tokens: list[NumberToken] = []
    group = 0
    prev_end = None
    for m in _RUN.finditer(text):
        sign, body = m.group(1), m.group(2)
        start, end = m.start(), m.end()
        if _in_word(text, start, end):
            continue  # "d6", "mp3", "x2", "5kg", "0x10": part of a word, not a number
        refused = _glued(text, start, end)
        if refused is None and _AFTER_PERCENT.match(text, end):
            refused = "a percentage (ambiguous: 50% is 50 or 0.5)"
        if refused is None and _AFTER_SCALE.match(text, end):
            refused = "followed by a scale word"
        if refused is None and _AFTER_POWER.match(text, end):
            refused = "part of an expression"
        values: list[float] = []
        if refused is None:
            try:
                values, refused = _span_value(body)
            except (ValueError, OverflowError):
                values, refused = [], "not a number"
        gap = text[prev_end:start] if prev_end is not None else None
        if gap is None or not _LIST_GAP.fullmatch(gap) or (gap == "" and sign):
            group += 1
        if gap is not None and tokens:
            op = gap.strip()
            if (gap == "" and sign) or (op in _OPERATORS and not (sign and op == "")):
                refused = refused or "part of an expression or range"
                for t in tokens:
                    if t.group == tokens[-1].group and t.end == prev_end:
                        t.value, t.refused = None, t.refused or "part of an expression or range"
                group += 1
        neg = sign == "-"
        if refused is not None or not values:
            tokens.append(NumberToken(start, end, m.group(0), None, refused or "not a number", group, bool(sign)))
        else:
            for i, v in enumerate(values):
                tokens.append(NumberToken(start, end, m.group(0), -v if neg and i == 0 else v, None, group, bool(sign)))
        prev_end = end
    return tokens
