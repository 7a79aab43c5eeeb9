"""Judging health from what was measured."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.health import (
    HealthReport,
    LagSeen,
    WorkerSeen,
    database_component,
    group_component,
    kafka_component,
    workers_component,
)

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _worker(age: float, stopping: bool = False) -> WorkerSeen:
    return WorkerSeen("w", NOW - timedelta(seconds=age), 5.0, stopping, 6, None, 0)


def test_a_worker_is_alive_for_three_missed_beats_and_not_once_stopping() -> None:
    assert _worker(14.9).alive(NOW) and not _worker(15.1).alive(NOW)
    assert not _worker(0, stopping=True).alive(NOW)
    assert workers_component([_worker(20)], NOW).status == "down"
    assert workers_component([_worker(20), _worker(1)], NOW).details["alive"] == 1


def test_a_group_without_members_is_down_and_lag_is_summed() -> None:
    lags = [LagSeen("t", 0, 10, 15, 5, "c1"), LagSeen("t", 1, None, 3, 3, None)]
    group = group_component("g", "stable", 1, lags, None)
    assert group.status == "ok"
    assert group.details["total_lag"] == 8 and group.details["unassigned_partitions"] == 1
    assert group_component("g", "empty", 0, lags, None).status == "down"


def test_the_report_is_down_when_any_component_is() -> None:
    ok = [
        database_component(True, 1.0, None),
        kafka_component(True, 2.0, 1, None),
        group_component("g", "stable", 1, [], None),
        workers_component([_worker(1)], NOW),
    ]
    assert HealthReport(NOW, tuple(ok)).ok
    down = HealthReport(NOW, (*ok[:3], workers_component([], NOW)))
    assert down.status == "down"
    assert down.as_json()["components"]["workers"]["status"] == "down"


def test_a_broker_away_shows_under_replicated_partitions_and_no_leader_is_down() -> None:
    away = kafka_component(True, 2.0, 2, None, under_replicated=12)
    assert away.status == "ok"
    assert away.summary.startswith("2 broker(s), 12 partition(s) under-replicated")
    assert away.details["under_replicated_partitions"] == 12
    stuck = kafka_component(True, 2.0, 1, None, under_replicated=12, offline=3)
    assert stuck.status == "down" and stuck.summary == "3 partition(s) without a leader"


def test_the_database_says_which_server_answered() -> None:
    answered = database_component(True, 1.0, None, "10.0.0.1:5433")
    assert answered.details["server"] == "10.0.0.1:5433"
    assert answered.summary == "answers in 1 ms (10.0.0.1:5433)"
    assert "server" not in database_component(True, 1.0, None).details
