"""A merge worker's connection: named in pg_stat_activity, and ended by PostgreSQL when the
worker goes silent inside a transaction (its patient locks go with it), which the worker then
takes for an outage and retries."""

from __future__ import annotations

import time

import psycopg
import pytest

from storage.db import is_transient, worker_connection


def test_a_silent_transaction_is_ended_by_the_server_and_counts_as_an_outage(
    database_url: str,
) -> None:
    with worker_connection(
        database_url, application_name="optimerge-worker w7", idle_in_transaction_seconds=1.0
    ) as conn:
        assert conn.execute("SHOW application_name").fetchone() == ("optimerge-worker w7",)
        assert conn.execute("SHOW idle_in_transaction_session_timeout").fetchone() == ("1s",)
        conn.execute("SELECT 1")  # a transaction is open now: autocommit is off
        time.sleep(1.5)  # silent inside it, as a paused or cut-off worker is
        with pytest.raises(psycopg.Error) as ended:
            conn.execute("SELECT 1")
        assert is_transient(ended.value), repr(ended.value)
