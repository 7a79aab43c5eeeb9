"""What may be told of an error without telling data (docs/contract.md#no-phi-in-logs): a
PostgreSQL error's texts can quote values ("Key (x)=(...)", "Failing row contains (...)",
"invalid input syntax ...: "1980-02-30""), so only its class, SQLSTATE and constraint name are
kept; a validation error keeps its field locations and messages, never the input; errors that
commonly carry values (ValueError, KeyError, ...) keep their type only."""

from __future__ import annotations

import psycopg
from pydantic import ValidationError

# Raised by data handling with the offending value in the message: only the type is told.
_DATA_ERRORS = (ValueError, TypeError, LookupError, AttributeError, ArithmeticError)


def describe_error(exc: BaseException) -> str:
    """A message built from the error's code and names only, never its values."""
    name = type(exc).__name__
    if isinstance(exc, psycopg.Error):
        code = exc.sqlstate or (exc.diag.sqlstate if exc.diag else None)
        constraint = exc.diag.constraint_name if exc.diag else None
        told = f"SQLSTATE {code}" if code else "no SQLSTATE: the connection failed"
        return f"{name} ({told}" + (f", constraint {constraint})" if constraint else ")")
    if isinstance(exc, ValidationError):
        parts = [
            ".".join(str(p) for p in item["loc"]) + f": {item['msg']}"
            for item in exc.errors(include_input=False, include_url=False, include_context=False)
        ]
        return f"{name}: " + "; ".join(parts[:5])
    if isinstance(exc, _DATA_ERRORS):
        return name
    return f"{name}: {exc}" if str(exc) else name
