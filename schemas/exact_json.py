"""JSON that keeps FHIR decimals exactly as sent (docs/contract.md#input-contract).

orjson reads 0.010 as the float 0.01 and rounds big numbers; FHIR decimals carry their
precision. Input events and stored resources are read with `loads_exact` (decimals become
`Decimal`, never NaN or Infinity) and written with `dumps_exact` (a Decimal is written as the
plain number PostgreSQL's jsonb keeps: 0.010 stays 0.010, 1E+2 becomes 100).
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import msgspec
import orjson

from schemas.dates import FhirDate
from schemas.input_contract import number_problem


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class NumberRefusedError(ValueError):
    """A number the input contract refuses (schemas/input_contract.py#number_problem)."""


def _integer(text: str) -> int | Decimal:
    # Beyond 64 bits (which orjson writes) an integer stays a Decimal, digit for digit.
    if len(text) <= 18:
        return int(text)
    problem = number_problem(text)
    if problem:
        raise NumberRefusedError(problem)
    return Decimal(text)


def _decimal(text: str) -> Decimal:
    # Only a long text or an exponent can break the limit: the common number costs one test.
    if len(text) > 24 or "e" in text or "E" in text:
        problem = number_problem(text)
        if problem:
            raise NumberRefusedError(problem)
    return Decimal(text)


# msgspec reads what the standard parser reads (floats handed to `_decimal` as written) but
# keeps integers `_integer` makes Decimals (19 characters or more, a sign included) as int:
# text with a run of 18 digits takes the standard parser. Found by a translate and a substring
# search (a regex over the whole text costs more than the parse it spares).
_FAST = msgspec.json.Decoder(float_hook=_decimal)
_DIGITS_ONLY = bytes(ord("0") if chr(b).isdigit() and b < 128 else ord(" ") for b in range(256))
_DIGIT_RUN = b"0" * 18


def loads_exact(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse UTF-8 JSON; decimals (and integers beyond 64 bits) as Decimal. Raises ValueError
    (UnicodeDecodeError and json.JSONDecodeError are ValueErrors) or RecursionError for
    anything it refuses."""
    if isinstance(data, bytes) and _DIGIT_RUN not in data.translate(_DIGITS_ONLY):
        try:
            return _FAST.decode(data)
        except Exception:  # noqa: S110
            pass  # refused: the standard parser below says why, in its own words
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    return json.loads(
        text, parse_float=_decimal, parse_int=_integer, parse_constant=_refuse_constant
    )


def decimal_text(value: Decimal) -> str:
    """Plain notation, as PostgreSQL's numeric prints it (so stored and sent texts agree)."""
    if value.is_zero():
        value = abs(value)  # numeric has no negative zero
    return format(value, "f")


def _default(value: Any) -> Any:
    if type(value) is Decimal or isinstance(value, Decimal):
        return orjson.Fragment(decimal_text(value))
    if isinstance(value, FhirDate):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps_exact(value: Any, *, option: int = 0) -> bytes:
    """orjson's output, with Decimals written exactly (and FhirDates as FHIR strings)."""
    option |= orjson.OPT_PASSTHROUGH_DATACLASS
    try:
        return orjson.dumps(value, default=_default, option=option)
    except TypeError as exc:
        if "64-bit" not in str(exc):
            raise
        # orjson writes integers up to 64 bits only: larger ones go as exact decimals.
        return orjson.dumps(_big_ints_as_decimals(value), default=_default, option=option)


def _big_ints_as_decimals(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _big_ints_as_decimals(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_big_ints_as_decimals(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64:
        return Decimal(value)
    return value


def dumps_exact_text(value: Any) -> str:
    return dumps_exact(value).decode()


def _default_or_str(value: Any) -> Any:
    try:
        return _default(value)
    except TypeError:
        return str(value)


def dumps_for_display(value: Any, *, option: int = 0) -> bytes:
    """For API answers and CLI output: exact decimals; anything else unknown as its str()."""
    return orjson.dumps(
        value, default=_default_or_str, option=option | orjson.OPT_PASSTHROUGH_DATACLASS
    )
