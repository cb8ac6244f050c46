"""Property tests of the answer parser (hypothesis): a parsed sample is a value the reply states, or a parse failure.

``stated_values`` below is an independent reading of "what a reply states":
the maximal runs of number characters (digits, ``. , / e E + -``) not glued
to a letter or digit-like character, read as a decimal, a thousands-grouped
decimal, a fraction of two integers or a comma list. Whatever the parser
returns must be among them (labels and items must appear in the reply), for
every answer format, single and batch. A second family renders a known
value in every accepted way and checks it comes back exactly; a third
renders hostile forms (fractions, lists, percentages, expressions) and
checks the parser gives the documented value or nothing.

Budget per run: :data:`EXAMPLES` (600) cases for each of the 6 tests (explicit
``max_examples``), counted in ``tests/fuzz_count.py`` and printed in the
terminal summary; the total is in docs/models.md.
"""

from __future__ import annotations

import json
import os
import re

from fuzz_count import count
from stated_values import assert_stated, fold_text as _fold
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stochbox.agents.parsing import parse_answer, parse_value
from stochbox.scenarios.models import AnswerFormat

#: Generated cases per property test and run (``STOCHBOX_FUZZ_EXAMPLES`` raises it for a deeper local search).
EXAMPLES = int(os.environ.get("STOCHBOX_FUZZ_EXAMPLES", "600"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])

NUM = AnswerFormat(type="number")
INT = AnswerFormat(type="integer")
LAB = AnswerFormat(type="label", labels=["sun", "cloud", "rain"])
VEC = AnswerFormat(type="vector", dim=3)
IVEC = AnswerFormat(type="vector", dim=2, element="integer")
PERM = AnswerFormat(type="list", items=["A", "B", "C", "D"])
FORMATS = {"number": NUM, "integer": INT, "label": LAB, "vector": VEC, "ivector": IVEC, "list": PERM}


# --- generated replies -----------------------------------------------------------------------------------------

FRAGMENTS = [
    "ANSWER:", "ANSWER: ", "answer is ", "Final answer: ", "I got ", "sample: ", " = ", " ", "  ", "\n", ",", ", ", ".",
    "/", "-", "+", "\u2212", "\u2013", "%", "e", "E", "x", " × ", "^", "**", "±", "[", "]", "(", ")", "{", "}", '"', ":",
    '{"answer": ', '{"samples": [', "```json\n", "```", "```python\nprint(3)\n```", "<think>", "</think>", " million",
    " and ", " or ", " to ", "½", "²", "⁻", "３", "．", "，", "－", "٣", "٫", "٬", "𝟕", "\u00a0", "\u202f", "\ud83c",
    "NaN", "inf", "true", "null", "sun", "RAIN", "Cloud", "A", "B", "C", "D", "0x", "kg", "1e309", "\x00", "\x1b[0m",
]
NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=64).map(repr),
    st.floats(-1e6, 1e6).map(lambda v: f"{v:,.3f}"),
    st.tuples(st.integers(-50, 50), st.integers(0, 12)).map(lambda t: f"{t[0]}/{t[1]}"),
    st.sampled_from(["1,000.5", "3,5", "1.2.3", "12:30", "7/2", "10²", "3½", "٣٫٥", "３．５", "𝟑.𝟓", "−2", "–2", "0.5%"]),
)
PIECES = st.one_of(st.sampled_from(FRAGMENTS), NUMBERS, st.text(max_size=4))
REPLIES = st.one_of(st.lists(PIECES, max_size=14).map("".join), st.text(max_size=60))


def _check_any_reply(name: str, text: str, fmt: AnswerFormat, n: int) -> None:
    count(name)
    parsed = parse_answer(text, fmt, n)  # never raises
    assert len(parsed.samples) <= n
    assert parsed.samples or parsed.reason
    assert_stated(text, fmt, parsed.samples)


@FUZZ
@given(text=REPLIES, fmt=st.sampled_from(sorted(FORMATS)))
def test_any_reply_single_sample_is_stated_or_refused(text, fmt):
    _check_any_reply("parser: any reply, one sample, every format", text, FORMATS[fmt], 1)


@FUZZ
@given(text=REPLIES, fmt=st.sampled_from(sorted(FORMATS)), n=st.integers(2, 5))
def test_any_reply_batch_samples_are_stated_or_missing(text, fmt, n):
    _check_any_reply("parser: any reply, batch, every format", text, FORMATS[fmt], n)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=True, allow_infinity=True) | st.integers(-(10**20), 10**20) | st.text(max_size=8)
    | st.sampled_from(["7/2", "３．５", "3,5", "50%", "rain", "B"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(["answer", "samples", "value", "x"]), inner, max_size=3),
    max_leaves=10,
)


def _leaves(value) -> list[str]:
    """Every key and scalar of a JSON value as the text it states (strings as they are, numbers as JSON writes them)."""
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in [k, *_leaves(v)]]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value if isinstance(value, str) else json.dumps(value)]


@FUZZ
@given(value=JSONISH, fmt=st.sampled_from(sorted(FORMATS)), n=st.sampled_from([1, 3]))
def test_structured_values_tool_arguments_are_stated_or_refused(value, fmt, n):
    count("parser: structured values (tool-call arguments), every format")
    parsed = parse_value(value, FORMATS[fmt], n)
    text = " | ".join(_leaves(value))
    assert parsed.samples or parsed.reason
    assert_stated(text, FORMATS[fmt], parsed.samples)


# --- known values in every accepted rendering come back exactly ----------------------------------------------------

PROSE = st.text(alphabet=st.sampled_from(list("abcdfghijklmnopqrstuvwyz ABCDFGHIJKLMNOPQRSTUVWYZ.!?\n")), max_size=20)
MARKERS = st.sampled_from(["ANSWER: ", "ANSWER:", "Final answer: ", "The answer is ", "I got ", "x = ", ""])


def _fullwidth(s: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


def _render(v: float | int, how: str) -> str:
    text = repr(v) if isinstance(v, float) else str(v)
    if how == "plain":
        return text
    if how == "thousands":
        return f"{v:,}"
    if how == "fullwidth":
        return _fullwidth(text)
    if how == "unicode-minus":
        return text.replace("-", "\u2212")
    if how == "json":
        return json.dumps({"answer": v})
    if how == "json-string":
        return json.dumps({"answer": text})
    if how == "fenced":
        return "```json\n" + json.dumps({"answer": v}) + "\n```"
    raise AssertionError(how)


RENDERINGS = ["plain", "thousands", "fullwidth", "unicode-minus", "json", "json-string", "fenced"]
FINITE = st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda v: abs(v) < 1e300)


@FUZZ
@given(v=st.one_of(FINITE, st.integers(-(2**53), 2**53)), how=st.sampled_from(RENDERINGS), marker=MARKERS, before=PROSE, after=PROSE)
def test_a_number_in_any_accepted_rendering_comes_back_exactly(v, how, marker, before, after):
    count("parser: known number, every accepted rendering")
    fmt = INT if isinstance(v, int) else NUM
    text = f"{before}\n{marker}{_render(v, how)}\n{after}"
    parsed = parse_answer(text, fmt)
    assert parsed.samples == [v], (text, parsed.reason)


@FUZZ
@given(
    label=st.sampled_from(LAB.labels), case=st.sampled_from([str.lower, str.upper, str.title]),
    vec=st.lists(FINITE, min_size=3, max_size=3), perm=st.permutations(PERM.items), marker=MARKERS, before=PROSE,
)
def test_labels_vectors_and_orderings_come_back_exactly(label, case, vec, perm, marker, before):
    count("parser: known label, vector, ordering")
    prose = re.sub(r"(?i)sun|cloud|rain|\b[abcd]\b", "", before)
    assert parse_answer(f"{prose}\n{marker}{case(label)}", LAB).samples == [label]
    assert parse_answer(f"{prose}\n{marker}{json.dumps(vec)}", VEC).samples == [vec]
    assert parse_answer(f"{prose}\n{marker}{', '.join(map(repr, vec))}", VEC).samples == [vec]
    assert parse_answer(f"{prose}\n{marker}{json.dumps(perm)}", PERM).samples == [perm]


# --- hostile forms give the documented value or nothing --------------------------------------------------------------

SMALL = st.integers(-999, 999)


@FUZZ
@given(a=SMALL, b=SMALL, c=st.integers(0, 99), marker=MARKERS, form=st.integers(0, 9))
def test_hostile_forms_give_the_documented_value_or_nothing(a, b, c, marker, form):
    count("parser: hostile forms (fractions, lists, percentages, expressions)")
    cases = [
        (f"{a}/{c}", {a / c} if c else set()),  # a fraction of integers: its value, never a or c
        (f"[{a}, {b}]", set()),  # a list where one value is expected
        (f"{a}, {b}", set()),
        (f"{a}%", set()),
        (f"{a} + {b}", set()),
        (f"{a}*{c}", set()),
        (f"{a} × 10^{c}", set()),
        (f"{a}.{c}.{c}", set()),
        (f"{abs(a)}{'²'}", set()),
        (f"{_fullwidth(str(a))}．{c}", {float(f"{a}.{c}")} if a >= 0 else {-float(f"{-a}.{c}")}),
    ]
    body, allowed = cases[form]
    for fmt in (NUM, INT):
        parsed = parse_answer(f"{marker}{body}", fmt)
        assert set(parsed.samples) <= allowed, (body, parsed.samples)
        if parsed.samples == [] and allowed and fmt is NUM:
            raise AssertionError(f"{body!r} states {allowed} but was refused: {parsed.reason}")
