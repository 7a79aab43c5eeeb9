"""What a worker waits out in place (an outage) and what it blames on the data: a failover and
a server that ended a silent worker's transaction are outages; the data's own errors are not."""

from __future__ import annotations

import pytest
from psycopg import errors

from config import Settings
from storage.db import is_transient
from streams.app import request_timeout


@pytest.mark.parametrize(
    "error",
    [
        errors.ReadOnlySqlTransaction,  # the server turned standby under us
        errors.IdleInTransactionSessionTimeout,  # PostgreSQL ended our transaction
        errors.IdleSessionTimeout,
        errors.AdminShutdown,
        errors.ConnectionFailure,
        errors.SerializationFailure,
    ],
)
def test_failovers_and_ended_sessions_are_outages(error: type[Exception]) -> None:
    assert is_transient(error("x"))


@pytest.mark.parametrize(
    "error", [errors.UniqueViolation, errors.CharacterNotInRepertoire, errors.DatatypeMismatch]
)
def test_what_the_data_causes_is_not(error: type[Exception]) -> None:
    assert not is_transient(error("x"))


def test_a_broker_request_may_outlast_every_broker_side_wait_and_no_more() -> None:
    settings = Settings(
        worker_session_timeout_seconds=10.0, worker_rebalance_timeout_seconds=12.0
    ).resolved(kafka_bootstrap_servers="127.0.0.1:9", database_url="postgresql://x@h/x")
    assert request_timeout(settings) == 17.0
