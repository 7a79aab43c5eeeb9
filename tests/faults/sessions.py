"""A worker's PostgreSQL session as pg_stat_activity shows it (named `optimerge-worker <id>`):
to strike a worker (SIGSTOP, a cut network) while it is inside a transaction, holding the row
locks of its patients, and to see PostgreSQL end that transaction by itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True)
class Backend:
    pid: int
    state: str
    xact_start: datetime | None
    wait_event: str | None = None

    @property
    def in_transaction(self) -> bool:
        return self.xact_start is not None


def backend(conn: psycopg.Connection, instance_id: str) -> Backend | None:
    row = conn.execute(
        "SELECT pid, state, xact_start, wait_event FROM pg_stat_activity "
        "WHERE application_name = %s",
        (f"optimerge-worker {instance_id}",),
    ).fetchone()
    return None if row is None else Backend(row[0], row[1] or "", row[2], row[3])


def strike_inside_transaction(
    database_url: str,
    instance_id: str,
    strike: Callable[[], None],
    undo: Callable[[], None],
    *,
    timeout: float = 20.0,
) -> Backend | None:
    """`strike` the worker when its backend is inside a transaction, and keep it struck if
    the transaction is still open 50 ms later (it then waits for a client that cannot answer);
    otherwise `undo` and try again. Returns the backend so held, or None if the worker never
    was caught inside one in `timeout` (it is struck anyway then)."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            seen = backend(conn, instance_id)
            if seen is None or not seen.in_transaction or seen.state == "idle":
                time.sleep(0.002)
                continue
            strike()
            time.sleep(0.05)
            held = backend(conn, instance_id)
            if held is not None and held.pid == seen.pid and held.in_transaction:
                return held
            undo()
    strike()
    return None


def how_it_ended(database_url: str, held: Backend, timeout: float) -> str:
    """How the transaction `held` ended: PostgreSQL ended the session (after how long), or the
    worker finished it itself once it could again (it held its locks until then)."""
    started = time.monotonic()
    with psycopg.connect(database_url, autocommit=True) as conn:
        while time.monotonic() - started < timeout:
            row = conn.execute(
                "SELECT xact_start FROM pg_stat_activity WHERE pid = %s", (held.pid,)
            ).fetchone()
            seconds = time.monotonic() - started
            if row is None:
                return f"PostgreSQL ended that transaction after {seconds:.1f} s"
            if row[0] != held.xact_start:
                return f"the worker ended that transaction itself after {seconds:.1f} s"
            time.sleep(0.1)
    return f"that transaction was still open after {timeout:.0f} s"
