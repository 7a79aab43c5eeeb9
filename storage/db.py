"""Connections and transactions, and the line between a database outage (retry) and a bad
document (dead-letter)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg import errors
from psycopg.abc import QueryNoTemplate
from psycopg.conninfo import conninfo_to_dict
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


# A worker's connection gives up on a server it cannot reach within seconds instead of the
# kernel's minutes: a connect that hangs (a cut network, a host gone), a reply that never comes
# (keepalives: 5 s idle, then 3 probes 2 s apart), data never acknowledged (20 s). The batch is
# then retried on a new connection, to whichever server is primary by then. DATABASE_URL wins.
_WORKER_CONNECTION: dict[str, Any] = {
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 20_000,
}


def worker_connection(
    database_url: str, *, application_name: str, idle_in_transaction_seconds: float
) -> psycopg.Connection:
    """A merge worker's connection (docs/contract.md#merge-semantics): named in
    pg_stat_activity, quick to notice a lost server, and whose transaction PostgreSQL ends
    (releasing its patient locks) once the worker has been silent inside it for
    `idle_in_transaction_seconds`: a worker paused or cut off that long has lost its
    partitions, and must not keep the next owner waiting on its locks."""
    given = conninfo_to_dict(database_url)
    extra: dict[str, Any] = {k: v for k, v in _WORKER_CONNECTION.items() if k not in given}
    if "application_name" not in given:
        extra["application_name"] = application_name
    conn = connect(database_url, **extra)
    milliseconds = str(max(1, round(idle_in_transaction_seconds * 1000)))
    conn.execute(
        "SELECT set_config('idle_in_transaction_session_timeout', %s, false)", (milliseconds,)
    )
    conn.commit()
    return conn


@contextmanager
def transaction(conn: psycopg.Connection) -> Iterator[psycopg.Cursor]:
    """One transaction and a cursor in it: committed when the block ends, rolled back if it
    raises. A use case's writes and its audit entry go through one of these."""
    with conn.transaction(), conn.cursor() as cur:
        yield cur


class Sent:
    """A query sent in a `sent_together` block: its rows, once the block has ended."""

    def __init__(self, cur: psycopg.Cursor) -> None:
        self._cur = cur

    def rows(self) -> list[tuple[Any, ...]]:
        try:
            return self._cur.fetchall()
        finally:
            self._cur.close()


Send = Callable[[QueryNoTemplate, Sequence[Any]], Sent]


@contextmanager
def sent_together(conn: psycopg.Connection) -> Iterator[Send]:
    """Queries sent at once and answered at once (libpq's pipeline mode): one wait on the server
    for all of them, where each would wait on its own, and each wait is a trip through the
    scheduler on a busy machine. They run in order, in the open transaction; an error raises
    when the block ends (the later queries are skipped)."""
    with conn.pipeline():

        def send(query: QueryNoTemplate, params: Sequence[Any]) -> Sent:
            cur = conn.cursor()
            cur.execute(query, params)
            return Sent(cur)

        yield send


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
    # A server that turned standby under us (a failover): the next connection finds the primary.
    errors.ReadOnlySqlTransaction,
    # PostgreSQL ended our transaction: we were silent inside it too long (paused, cut off).
    errors.IdleInTransactionSessionTimeout,
    errors.IdleSessionTimeout,
)


def is_transient(exc: BaseException) -> bool:
    """True for an outage or a concurrency hiccup; False for an error the document itself causes."""
    if isinstance(exc, errors.DataError | errors.IntegrityError):
        return False
    return isinstance(exc, _TRANSIENT)
