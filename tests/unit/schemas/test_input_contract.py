"""The input contract's structural limits (schemas/input_contract.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from schemas.input_contract import (
    MAX_DEPTH,
    MAX_STRING_CHARS,
    normalise_free_text,
    timestamp_problem,
    tree_problem,
)


def nested(levels: int) -> object:
    value: object = "leaf"
    for _ in range(levels):
        value = {"a": [value]}
    return value


def test_an_ordinary_event_passes():
    assert (
        tree_problem(
            {
                "resources": [
                    {"resourceType": "Observation", "valueQuantity": {"value": Decimal("0.010")}}
                ],
                "note": "line one\nline two\ttab",
            }
        )
        is None
    )


def test_depth_is_limited_without_recursion():
    assert tree_problem(nested(MAX_DEPTH // 2 - 1)) is None
    problem = tree_problem(nested(MAX_DEPTH))
    assert problem is not None and f"nested deeper than {MAX_DEPTH} levels" in problem
    # Far beyond Python's recursion limit: still an answer, not a RecursionError.
    assert tree_problem(nested(50_000)) is not None


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\ud800"])
def test_control_characters_and_lone_surrogates_are_refused_anywhere(char: str):
    problem = tree_problem({"resources": [{"code": {"text": f"bad{char}text"}}]})
    assert problem is not None and problem.startswith("resources.0.code.text:")
    assert tree_problem({f"key{char}": 1}) is not None


def test_reasons_name_the_place_never_the_value():
    problem = tree_problem({"note": "Jane Doe has HIV\x00"})
    assert problem is not None and "Jane" not in problem and "HIV" not in problem


def test_strings_and_numbers_are_bounded():
    assert tree_problem({"s": "x" * (MAX_STRING_CHARS + 1)}) is not None
    assert tree_problem({"n": 10**100}) is not None
    assert tree_problem({"n": Decimal("1e400")}) is not None
    assert tree_problem({"n": Decimal("1e-400")}) is not None
    assert tree_problem({"n": Decimal("12345678901234567890.0123456789")}) is None


def test_timestamps_are_readable_in_every_zone():
    assert timestamp_problem(datetime(2026, 1, 1, tzinfo=UTC)) is None
    late = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))
    assert timestamp_problem(late) is not None
    assert timestamp_problem(datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=14)))) is not None
    assert timestamp_problem(datetime(1899, 12, 31, tzinfo=UTC)) is not None


def test_free_text_is_normalised_by_removing_what_is_refused():
    assert normalise_free_text("pasted\x00 from a\x0c PDF\n") == "pasted from a PDF\n"
