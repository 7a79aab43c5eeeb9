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

import orjson

from schemas.dates import FhirDate


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def loads_exact(data: bytes | bytearray | memoryview | str) -> Any:
    """Parse UTF-8 JSON; decimals as Decimal. Raises ValueError (UnicodeDecodeError and
    json.JSONDecodeError are ValueErrors) or RecursionError for anything it refuses."""
    text = data if isinstance(data, str) else bytes(data).decode("utf-8")
    return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)


def decimal_text(value: Decimal) -> str:
    """Plain notation, as PostgreSQL's numeric prints it (so stored and sent texts agree)."""
    if value.is_zero():
        value = abs(value)  # numeric has no negative zero
    return format(value, "f")


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(decimal_text(value))
    if isinstance(value, FhirDate):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps_exact(value: Any, *, option: int = 0) -> bytes:
    """orjson's output, with Decimals written exactly (and FhirDates as FHIR strings)."""
    return orjson.dumps(value, default=_default, option=option | orjson.OPT_PASSTHROUGH_DATACLASS)


def dumps_exact_text(value: Any) -> str:
    return dumps_exact(value).decode()
