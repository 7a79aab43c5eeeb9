"""The input contract's structural limits (schemas/input_contract.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.exact_json import dumps_exact, loads_exact
from schemas.input_contract import (
    MAX_DEPTH,
    MAX_STRING_CHARS,
    event_problem,
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


json_text = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**90), max_value=10**90)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None, database=None)
@given(json_text, st.booleans())
def test_the_text_scan_agrees_with_the_full_walk(value, ascii_only):
    raw = dumps_exact(value) if not ascii_only else json.dumps(value, default=str).encode()
    try:
        parsed = loads_exact(raw)
    except ValueError:
        return
    assert (event_problem(parsed, raw) is None) == (tree_problem(parsed) is None)


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, 300])
@pytest.mark.parametrize("noise", ["", '"[[{{ \\" ]]}}"', '"\\\\"'])
def test_the_text_scan_measures_depth_as_the_walk_does(levels, noise):
    raw = (f'{{"s":{noise or 1},"x":[' * levels + "1" + "]}" * levels).encode()
    parsed = loads_exact(raw)
    assert (event_problem(parsed, raw) is None) == (tree_problem(parsed) is None)


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])
@pytest.mark.parametrize("text", ["[[[[", "]]]]", "}{", "[", "", "a]b[c"])
def test_brackets_in_strings_without_escapes_do_not_count(levels, text):
    raw = (f'{{"{text}":"{text}","x":[' * levels + f'"{text}"' + "]}" * levels).encode()
    parsed = loads_exact(raw)
    assert (event_problem(parsed, raw) is None) == (tree_problem(parsed) is None)


def _walked_depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_walked_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_walked_depth(v) for v in value), default=0)
    return 0


# Strings made of what could confuse a scan of the text: quotes, backslashes and brackets.
_tricky = st.text(st.sampled_from(['"', "\\", "[", "]", "{", "}", "a", "é"]), max_size=6)
_json_values = st.recursive(
    st.one_of(st.none(), st.integers(), _tricky),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(_tricky, inner, max_size=3)
    ),
    max_leaves=25,
)


@settings(max_examples=400, deadline=None, database=None)
@given(_json_values)
def test_the_text_scan_measures_the_depth_the_walk_measures(value: object) -> None:
    from schemas.input_contract import _bracket_depth

    for text in (
        json.dumps(value),
        json.dumps(value, indent=1),
        json.dumps(value, ensure_ascii=False),
    ):
        assert _bracket_depth(text.encode(), MAX_DEPTH) == min(_walked_depth(value), MAX_DEPTH + 1)
