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
