"""Connections and transactions, and the line between a database outage (retry) and a bad
document (dead-letter)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors
from psycopg.types.datetime import TimestamptzLoader
from psycopg.types.json import set_json_dumps, set_json_loads

from schemas.exact_json import dumps_exact_text, loads_exact


class _ReadableTimestamptzLoader(TimestamptzLoader):
    """A timestamptz Python cannot hold (after 9999-12-31 or before year 1 in UTC, which
    PostgreSQL stores happily) reads as the nearest one it can, so that no reader fails on
    stored data (docs/contract.md#input-contract)."""

    def load(self, data: Any) -> datetime:
        try:
            return super().load(data)
        except errors.DataError:
            text = bytes(data)
            early = text.startswith(b"-") or text.endswith(b"BC") or text[:1] == b"0"
            return (datetime.min if early else datetime.max).replace(tzinfo=UTC)


def configure_connection(conn: psycopg.Connection) -> None:
    """Exact JSON for the JSONB bodies we move (FHIR decimals stay as sent; pools call this)."""
    set_json_dumps(dumps_exact_text, context=conn)
    set_json_loads(loads_exact, context=conn)
    conn.adapters.register_loader("timestamptz", _ReadableTimestamptzLoader)


def connect(database_url: str, *, autocommit: bool = False, **kwargs: Any) -> psycopg.Connection:
    conn = psycopg.connect(database_url, autocommit=autocommit, **kwargs)
    configure_connection(conn)
    return conn


@contextmanager
def transaction(conn: psycopg.Connection) -> Iterator[psycopg.Cursor]:
    """One transaction and a cursor in it: committed when the block ends, rolled back if it
    raises. A use case's writes and its audit entry go through one of these."""
    with conn.transaction(), conn.cursor() as cur:
        yield cur


@contextmanager
def snapshot(conn: psycopg.Connection) -> Iterator[None]:
    """Several reads that must agree (a document's state and the outcome of an action on it)
    in one read-only REPEATABLE READ transaction: a merge agent committing between them cannot
    make the page contradict itself."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


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
