"""EventBridge event patterns keep JSON types apart (patches/events.py):
booleans are not numbers, numbers are not booleans."""

from __future__ import annotations

import json

import pytest

from conftest import ACCOUNT_ID, REGION


def _event(detail: dict) -> dict:
    return {
        "id": "1", "account": ACCOUNT_ID, "source": "irlab.simulation", "time": "2026-01-01T00:00:00Z",
        "region": REGION, "resources": [], "detail-type": "Flag", "detail": detail,
    }


@pytest.mark.parametrize(
    ("pattern", "value", "expected"),
    [
        # exact values: true/false are JSON keywords, 1/0 numbers - never each other
        ([True], True, True),
        ([True], 1, False),
        ([1], True, False),
        ([1], 1, True),
        ([False], False, True),
        ([False], 0, False),
        ([0], False, False),
        ([0], 0, True),
        # arrays in the event: an element matches only with its own type
        ([True], [1, 2], False),
        ([1], [True, False], False),
        ([True], [0, True], True),
        # numeric ranges compare numbers only
        ([{"numeric": [">", 0]}], True, False),
        ([{"numeric": ["=", 1]}], True, False),
        ([{"numeric": ["=", 0]}], False, False),
        ([{"numeric": [">=", 0]}], [False, True], False),
        ([{"numeric": [">=", 0]}], 1, True),
        # anything-but: a boolean is not the excluded number (and the reverse)
        ([{"anything-but": [1]}], True, True),
        ([{"anything-but": 0}], False, True),
        ([{"anything-but": [True]}], 1, True),
        ([{"anything-but": [True]}], True, False),
        ([{"anything-but": [1]}], 1, False),
    ],
)
def test_booleans_and_numbers_do_not_match_each_other(aws, pattern, value, expected):
    """Event pattern values follow JSON: strings, numbers and the keywords
    true, false and null are distinct values, matched exactly - so a pattern
    [true] matches only the boolean true (not the number 1), [1] only the
    number 1 (not true), [false] not 0 and [0] not false. Numeric matching
    ({"numeric": [...]}) works on JSON numbers: a boolean is never in a numeric
    range, and anything-but excludes only values of the excluded type. (moto
    5.2.5 compared with Python's ==, where True == 1 and False == 0, and
    isinstance(True, int): [true] matched 1, [1] matched true, numeric ranges
    matched booleans.)
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern.html (Matching event values; values follow JSON rules: strings, numbers, true, false, null)
    https://docs.aws.amazon.com/eventbridge/latest/userguide/content-filtering-with-event-patterns.html (Numeric matching: numeric matching works with values that are JSON numbers)
    https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
    """
    events = aws("events")
    result = events.test_event_pattern(
        EventPattern=json.dumps({"detail": {"flag": pattern}}), Event=json.dumps(_event({"flag": value}))
    )["Result"]
    assert result is expected
