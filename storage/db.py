"""Connections, and the line between a database outage (retry) and a bad document (dead-letter)."""

from __future__ import annotations

from typing import Any

import orjson
import psycopg
from psycopg import errors
from psycopg.types.json import set_json_dumps, set_json_loads


def _dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def connect(database_url: str, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection:
    conn = psycopg.connect(database_url, autocommit=autocommit, **kwargs)
    # orjson is several times faster than json for the JSONB bodies we move.
    set_json_dumps(_dumps, context=conn)
    set_json_loads(orjson.loads, context=conn)
    return conn


# Errors after which the same batch may well succeed: the database, not the data, was the problem.
_TRANSIENT = (
    psycopg.OperationalError,
    psycopg.InterfaceError,
    errors.SerializationFailure,
    errors.DeadlockDetected,
    errors.LockNotAvailable,
    errors.AdminShutdown,
    errors.CannotConnectNow,
    errors.QueryCanceled,
)


def is_transient(exc: BaseException) -> bool:
    """True for an outage or a concurrency hiccup; False for an error the document itself causes."""
    if isinstance(exc, errors.DataError | errors.IntegrityError):
        return False
    return isinstance(exc, _TRANSIENT)
