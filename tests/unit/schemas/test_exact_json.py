"""FHIR decimals come back exactly as sent (schemas/exact_json.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

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
