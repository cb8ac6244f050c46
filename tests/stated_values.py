"""An independent reading of the values a reply states, for the parser's contract tests (unit and end to end).

The maximal runs of number characters (digits, ``. , / e E + -``) that are
not glued to a letter or another digit-like character, read as a decimal,
a thousands-grouped decimal, a fraction of two integers or a comma list,
after folding compatibility forms (full-width, mathematical, no-break) and
any script's digits to ASCII. Written apart from stochbox's tokenizer on
purpose: the parser's output must be among these values.
"""

from __future__ import annotations

import math
import re
import unicodedata


def fold_text(text: str) -> str:
    out = []
    for ch in text:
        if ch == "\u2212":
            ch = "-"
        elif ch == "\u066b":
            ch = "."
        elif ch == "\u066c":
            ch = ","
        elif unicodedata.category(ch) == "Nd":
            ch = str(unicodedata.digit(ch))
        elif unicodedata.decomposition(ch).split(" ")[0] in ("<wide>", "<narrow>", "<font>", "<small>", "<noBreak>"):
            nfkc = unicodedata.normalize("NFKC", ch)
            ch = nfkc if nfkc.isascii() else ch
        out.append(ch)
    return "".join(out)


_RUN = re.compile(r"[0-9.,/eE+\-]+")
_FLOAT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def _readings(run: str) -> set[float]:
    run = run.rstrip(".,")
    out: set[float] = set()
    if _FLOAT.fullmatch(run):
        out.add(float(run))
    if re.fullmatch(r"[-+]?[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]*)?", run):
        out.add(float(run.replace(",", "")))
    m = re.fullmatch(r"([-+]?)([0-9]+)/([0-9]+)", run)
    if m and int(m.group(3)):
        out.add((-1 if m.group(1) == "-" else 1) * int(m.group(2)) / int(m.group(3)))
    pieces = [p for p in re.split(",+", run) if re.search("[0-9]", p)]  # ",e": a comma, then a word
    if "," in run and pieces and all(_FLOAT.fullmatch(p) for p in pieces):
        out.update(float(p) for p in pieces)
    return out


def stated_values(text: str) -> set[float]:
    text = fold_text(text)
    values: set[float] = set()
    for m in _RUN.finditer(text):
        run = m.group(0)
        found = re.match(r"[.,]*?(?=[-+]?(?:[0-9]|\.[0-9]))", run)
        lead = found.group(0) if found else ""  # separators before the number
        run = run[len(lead):]
        before = (text[m.start() - 1] if m.start() else " ") if not lead else " "
        after = text[m.end()] if m.end() < len(text) and run == run.rstrip(".,") else " "
        if before.isalnum() or after.isalnum() or "_" in (before, after):
            continue
        values |= _readings(run)
    return values


def assert_stated(text: str, fmt: AnswerFormat, samples: list) -> None:
    folded = fold_text(text).lower()
    numbers = stated_values(text)
    for sample in samples:
        parts = sample if isinstance(sample, list) else [sample]
        for part in parts:
            if isinstance(part, str):
                assert part.lower() in folded, (text, sample)
            else:
                assert math.isfinite(part) and float(part) in numbers, (text, sample, sorted(numbers)[:20])
