"""FHIR decimals come back exactly as sent (schemas/exact_json.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.exact_json import dumps_exact, loads_exact


@pytest.mark.parametrize(
    "text", ["0.010", "1.50", "123456789012345678901234567890.123456789", "-0.5", "100"]
)
def test_numbers_round_trip_as_written(text: str):
    assert dumps_exact(loads_exact(f'{{"v":{text}}}')) == f'{{"v":{text}}}'.encode()


def test_exponents_are_written_as_postgresql_keeps_them():
    assert dumps_exact(loads_exact('{"v":1.50E+1}')) == b'{"v":15.0}'
    assert dumps_exact(Decimal("-0.0")) == b"0.0"


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity", '{"v": NaN}'])
def test_non_numbers_are_refused(text: str):
    with pytest.raises(ValueError, match="not a JSON number"):
        loads_exact(text)


def test_only_utf8_is_read():
    with pytest.raises(UnicodeDecodeError):
        loads_exact(b'{"v": "\xff"}')
    with pytest.raises(ValueError, match="BOM"):
        loads_exact("\ufeff{}")


def _typed(value: object) -> object:
    """The value with every leaf's type made visible (Decimal('1.0') == 1 otherwise)."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value).__name__, repr(value))


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None, database=None)
@given(_json_values)
def test_bytes_read_as_the_standard_parser_reads_them(value: object):
    raw = dumps_exact(value)
    # A str takes the standard parser; bytes the fast one, when it can.
    assert _typed(loads_exact(raw)) == _typed(loads_exact(raw.decode()))


@pytest.mark.parametrize(
    "raw",
    [b'{"v":1234567890123456789}', b'{"v":-999999999999999999}', b"12345678901234567890"],
)
def test_integers_of_19_characters_or_more_stay_exact_decimals(raw: bytes):
    assert _typed(loads_exact(raw)) == _typed(loads_exact(raw.decode()))
    assert "Decimal" in str(_typed(loads_exact(raw)))


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"v": 1} x', "Extra data"),
        (b'{"v": "a\x01"}', "Invalid control character"),
        (b"\xef\xbb\xbf{}", "BOM"),
        (b'{"v": 1e400}', "80 digits"),
        (b"NaN", "not a JSON number"),
    ],
)
def test_refusals_of_bytes_keep_the_standard_parsers_words(raw: bytes, error: str):
    with pytest.raises(ValueError, match=error):
        loads_exact(raw)
