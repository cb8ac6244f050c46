"""Answer extraction for every answer format, and reasons for garbage."""

from __future__ import annotations

import pytest

from stochbox.agents.parsing import answer_json_schema, parse_answer, parse_value
from stochbox.scenarios.models import AnswerFormat

INT = AnswerFormat(type="integer")
NUM = AnswerFormat(type="number")
LAB = AnswerFormat(type="label", labels=["sun", "cloud", "rain"])
VEC = AnswerFormat(type="vector", dim=3)
IVEC = AnswerFormat(type="vector", dim=2, element="integer")
PERM = AnswerFormat(type="list", items=["A", "B", "C", "D"])


@pytest.mark.parametrize(
    "text, fmt, expected",
    [
        ("4", INT, 4),
        ("The answer is 4.", INT, 4),
        ("I rolled a 5 on the six-sided die", INT, 5),
        ("ANSWER: 2", INT, 2),
        ("It came up 6.0", INT, 6),
        ('```json\n{"answer": 1}\n```', INT, 1),
        ("<think>maybe 2, maybe 6</think>\nFinal answer: 3", INT, 3),
        ("x ≈ -3.25e-1 in this draw", NUM, -0.325),
        ("My sample: 10.73", NUM, 10.73),
        ("About 1,234.5 units", NUM, 1234.5),
        ("It will be RAIN tomorrow.", LAB, "rain"),
        ("Sun is likely, but my draw is: Cloud", LAB, "cloud"),
        ('"sun"', LAB, "sun"),
        ("[0.2, 0.3, 0.5]", VEC, [0.2, 0.3, 0.5]),
        ("The vector is (0.1,0.6,0.3).", VEC, [0.1, 0.6, 0.3]),
        ('{"answer": [3, 4]}', IVEC, [3, 4]),
        ('["B", "D", "A", "C"]', PERM, ["B", "D", "A", "C"]),
        ("Order after shuffling: C, A, D, B", PERM, ["C", "A", "D", "B"]),
        ("```python\nprint(7)\n```\nANSWER: 2", INT, 2),
    ],
)
def test_single_answers(text, fmt, expected):
    parsed = parse_answer(text, fmt)
    assert parsed.ok, parsed.reason
    assert parsed.samples == [expected]
    assert parsed.strategy


@pytest.mark.parametrize(
    "text, fmt, reason_part",
    [
        ("", INT, "empty"),
        ("I cannot know the outcome of a random event.", INT, "no number"),
        ("It is 2.5", INT, "not an integer"),
        ("windy", LAB, "none of the labels"),
        ("[0.2, 0.8]", VEC, "2 components, expected 3"),
        ("0.2 and 0.8", VEC, "fewer than 3"),
        ('["A", "A", "B", "C"]', PERM, "not a permutation"),
        ("A then B", PERM, "no ordering"),
        ("[1.0, 2.5]", NUM, "no valid sample"),  # a list for a scalar is not guessed from
        ("```python\nimport random\nprint(random.random())\n```", NUM, "only code"),
    ],
)
def test_garbage_has_a_reason(text, fmt, reason_part):
    parsed = parse_answer(text, fmt)
    assert not parsed.samples
    assert parsed.reason and reason_part in parsed.reason


def test_batch_json_list_keeps_valid_samples_and_says_what_is_missing():
    parsed = parse_answer('{"samples": [1, 2, "x", 4.5, 6]}', INT, n=5)
    assert parsed.samples == [1, 2, 6]
    assert parsed.partial and not parsed.ok
    assert "3 valid of 5" in parsed.reason and "#2" in parsed.reason


def test_batch_text_fallbacks():
    assert parse_answer("rolls: 1, 5, 2", INT, n=3).samples == [1, 5, 2]
    assert parse_answer("Sun, sun, RAIN, cloud", LAB, n=4).samples == ["sun", "sun", "rain", "cloud"]
    vecs = parse_answer("[[0.1, 0.2, 0.7], [0.3, 0.3, 0.4]]", VEC, n=2)
    assert vecs.ok and vecs.samples[1] == [0.3, 0.3, 0.4]
    extra = parse_answer("[1, 2, 3, 4]", INT, n=3)
    assert extra.ok and extra.samples == [1, 2, 3]


def test_structured_values():
    assert parse_value({"answer": 3}, INT).samples == [3]
    assert parse_value({"answer": "Rain"}, LAB).samples == ["rain"]
    assert parse_value({"samples": [[1, 2], [3, 4]]}, IVEC, n=2).samples == [[1, 2], [3, 4]]
    bad = parse_value({"answer": "seven"}, INT)
    assert not bad.samples and "no number" in bad.reason


def test_answer_schema_matches_format():
    assert answer_json_schema(LAB)["properties"]["answer"]["enum"] == ["sun", "cloud", "rain"]
    batch = answer_json_schema(VEC, n=4)["properties"]["samples"]
    assert batch["minItems"] == batch["maxItems"] == 4
    assert batch["items"]["minItems"] == 3


# --- the parser's contract (docs/models.md): a parsed sample is a value the reply states, or a parse failure ---


@pytest.mark.parametrize(
    "text, expected",
    [
        ("ANSWER: 7/2", 3.5),  # a fraction of two integers is its value, never 7
        ("ANSWER: -7/2", -3.5),
        ("ANSWER: ３．５", 3.5),  # full-width digits and point (NFKC compatibility forms), never 3
        ("ANSWER: 𝟑.𝟓", 3.5),  # mathematical bold digits
        ("ANSWER: ٣٫٥", 3.5),  # Arabic-Indic digits and decimal separator
        ("ANSWER: −3.5", -3.5),  # U+2212 MINUS SIGN keeps its sign
        ("ANSWER: 1,000.5", 1000.5),  # thousands separators
        ("ANSWER: 1,234,567", 1234567.0),
        ("ANSWER: 3.5 cm", 3.5),  # a unit after a space
        ("ANSWER: $3.50", 3.5),
        ("ANSWER: ≈ 3.5", 3.5),
        ("ANSWER: [3.5]", 3.5),  # a one-element list
        ('{"answer": "7/2"}', 3.5),
        ('{"answer": "３．５"}', 3.5),
        ("ANSWER: 3\nsome thoughts\nANSWER: 5", 5.0),  # several ANSWER lines: the last one wins
        ("ANSWER: \ud83c 4.5", 4.5),  # a lone surrogate does not stop the number after it
        ("ANSWER: 4 (rolled a d6)", 4.0),
        ("4 is my answer.", 4.0),  # a marker with no number after it: the last number
        ("I rolled a d6 and it shows 4", 4.0),  # digits inside a word are not numbers
        ('{"answer": "d6: 4"}', 4.0),
    ],
)
def test_contract_values_read_as_stated(text, expected):
    parsed = parse_answer(text, NUM)
    assert parsed.samples == [expected], parsed.reason


@pytest.mark.parametrize(
    "text, reason_part",
    [
        ("ANSWER: [1, 2]", "list"),  # a list where one value is expected, never 1
        ('{"answer": [1, 2]}', "list"),
        ("ANSWER: 1, 2", "list"),
        ("ANSWER: 3 or 4", "list"),
        ("ANSWER: 3,5", "list"),  # a decimal comma or a list: never 3 or 35
        ("ANSWER: 1.234,5", "list"),
        ("ANSWER: 50%", "percentage"),
        ("ANSWER: 2.5 million", "scale word"),
        ("ANSWER: 2+3", "expression"),
        ("ANSWER: 3-5", "expression or range"),
        ("ANSWER: 3 – 5", "expression or range"),
        ("ANSWER: 3 × 10^4", "expression"),
        ("ANSWER: 2**10", "expression"),
        ("ANSWER: 3.5 ± 0.2", "expression"),
        ("ANSWER: 10²", "glued"),  # NFKC would make this 102
        ("ANSWER: 3½", "glued"),  # NFKC would make this 31⁄2
        ("ANSWER: –3.5", "glued"),  # an en dash: sign unclear
        ("ANSWER: 0x10", "no readable number"),
        ("ANSWER: 5kg", "no readable number"),
        ("Rolled 3 times. ANSWER: 0x10", "no readable number"),  # never the 3 from before the marker
        ("ANSWER: 1.2.3", "separator"),
        ("ANSWER: 12:30", "separator"),
        ("ANSWER: 7/0", "division by zero"),
        ("ANSWER: 1/2/3", "fraction"),
        ("ANSWER: 1.5/2", "fraction"),
        ("ANSWER: NaN", "no number"),
        ("ANSWER: inf", "no number"),
        ("ANSWER: 1e309", "not finite"),
        ("ANSWER: seven", "no number"),
        ("true", "not a number"),
    ],
)
def test_contract_refusals(text, reason_part):
    parsed = parse_answer(text, NUM)
    assert not parsed.samples, parsed.samples
    assert reason_part in parsed.reason


def test_contract_integers_and_batches():
    assert parse_answer("ANSWER: 6/2", INT).samples == [3]
    assert not parse_answer("ANSWER: 7/2", INT).samples  # 3.5 is not an integer: refused, never 7 or 3
    assert parse_answer("ANSWER: ４", INT).samples == [4]
    assert parse_answer("rolls: 3 -5 2", INT, n=3).samples == [3, -5, 2]  # a space then a sign: separate numbers
    assert parse_answer("1,2,3", INT, n=3).samples == [1, 2, 3]  # commas that are not thousands separate
    assert parse_answer("draws: 7/2, 50%, 1.5", NUM, n=3).samples == [3.5, 1.5]  # the refused one is missing
    assert parse_answer("ANSWER: ０．２, ０．３, ０．５", VEC).samples == [[0.2, 0.3, 0.5]]
    assert parse_value({"answer": "７"}, INT).samples == [7]
    assert not parse_value({"answer": [1, 2]}, NUM).samples
    assert parse_value({"answer": "ＲＡＩＮ"}, LAB).samples == ["rain"]


def test_hostile_json_neither_raises_nor_takes_quadratic_time():
    """Brackets are tried as JSON a bounded number of times; nesting deeper than Python recurses is not JSON here."""
    refused = parse_answer("[" * 200_000, NUM)
    assert not refused.samples and "no number" in refused.reason
    assert parse_answer('{"a":' * 50_000 + "1", NUM).samples == [1.0]  # the one number it states, no RecursionError
    assert parse_answer("[" * 5000 + " ANSWER: 2.5", NUM).samples == [2.5]
