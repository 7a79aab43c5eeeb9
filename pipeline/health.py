"""The health check (docs/contract.md#health): PostgreSQL, Kafka, the merge workers' consumer
group and the workers' heartbeats, measured now and judged by domain/health.py. One function for
`optimerge status`, `GET /api/health` and the app's `/readyz`."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import psycopg

from config import ResolvedSettings
from domain.health import (
    MISSED_BEATS,
    Component,
    HealthReport,
    LagSeen,
    WorkerSeen,
    database_component,
    group_component,
    kafka_component,
    workers_component,
)
from schemas.events import Clock, utc_now
from storage.db import connect
from streams.groups import group_id
from streams.health import KafkaProbe, kafka_health, probe_kafka_once
from streams.topics import Topics

# Pings the database; raises when it does not answer.
DatabasePing = Callable[[], None]


def ping_with_connect(database_url: str, timeout: float) -> DatabasePing:
    def ping() -> None:
        with connect(database_url, connect_timeout=max(1, round(timeout))) as conn:
            conn.execute("SELECT 1").fetchone()

    return ping


def check_database(ping: DatabasePing) -> Component:
    started = time.perf_counter()
    try:
        ping()
    except (psycopg.Error, OSError, TimeoutError, RuntimeError) as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return database_component(False, elapsed, f"does not answer: {exc}".strip())
    return database_component(True, (time.perf_counter() - started) * 1000, None)


def check_kafka(settings: ResolvedSettings, timeout: float = 5.0) -> Component:
    probe: KafkaProbe = probe_kafka_once(settings.kafka_endpoint, timeout)
    return kafka_component(probe.ok, probe.latency_ms, probe.brokers, probe.error)


def check_health(
    settings: ResolvedSettings,
    *,
    ping: DatabasePing | None = None,
    clock: Clock = utc_now,
    timeout: float = 5.0,
) -> HealthReport:
    topics = Topics(settings.topic_prefix)
    database = check_database(ping or ping_with_connect(settings.database_url, timeout))
    now = clock()
    # Heartbeats older than a few intervals say nothing about now; keep the read short.
    since = now - timedelta(
        seconds=max(60.0, 4 * MISSED_BEATS * settings.heartbeat_interval_seconds)
    )
    measured = kafka_health(
        settings.kafka_endpoint,
        group_id(settings),
        topics.inputs(),
        topics.worker_heartbeats,
        since,
        timeout,
    )
    probe = measured.probe
    kafka = kafka_component(probe.ok, probe.latency_ms, probe.brokers, probe.error)
    now = clock()
    workers = [
        WorkerSeen(
            b.worker_id,
            b.at,
            b.interval_seconds,
            b.stopping,
            len(b.assigned),
            b.last_batch_at,
            b.batches,
        )
        for b in measured.heartbeats
    ]
    if measured.group is None:
        group = group_component(group_id(settings), "unknown", 0, [], "Kafka does not answer")
    else:
        g = measured.group
        owners = {tp: m.client_id or m.member_id for m in g.members for tp in m.assignment}
        lags = [
            LagSeen(
                p.topic, p.partition, p.committed, p.end, p.lag, owners.get((p.topic, p.partition))
            )
            for p in g.partitions
        ]
        group = group_component(g.group_id, g.state, len(g.members), lags, g.error)
    return HealthReport(now, (database, kafka, group, workers_component(workers, now)))
