"""The faust-streaming app factory: one place that maps our settings onto faust's."""

from __future__ import annotations

from pathlib import Path

import faust

from config import ResolvedSettings
from streams.groups import group_id
from streams.read_committed import FetchPolicy, use_read_committed
from streams.security import faust_credentials
from streams.topics import MAX_MESSAGE_BYTES

__all__ = ["create_app", "faust_broker_url", "group_id", "request_timeout"]


def faust_broker_url(bootstrap_servers: str) -> str:
    """'h1:9092,h2:9092' -> 'kafka://h1:9092;kafka://h2:9092' (faust's list syntax)."""
    hosts = [h.strip() for h in bootstrap_servers.split(",") if h.strip()]
    return ";".join(f"kafka://{h}" for h in hosts)


def request_timeout(settings: ResolvedSettings) -> float:
    """Seconds a broker request may go unanswered before its connection is dropped and made
    again: longer than any wait the broker itself may take (a join waits for the rebalance),
    far shorter than faust's 90 s. A connection that went silent (a network cut) is otherwise
    kept until TCP's backoff retransmits, up to twice the outage after it ended."""
    waits = (settings.worker_session_timeout_seconds, settings.worker_rebalance_timeout_seconds)
    return max(waits) + 5.0


def create_app(settings: ResolvedSettings, *, datadir: Path | None = None) -> faust.App:
    data = datadir or settings.infra.state_dir / "faust" / group_id(settings)
    data.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        group_id(settings),
        broker=faust_broker_url(settings.kafka_bootstrap_servers),
        broker_credentials=faust_credentials(settings.kafka),
        # We parse bytes ourselves, so bad input reaches our dead-letter path, not faust's.
        key_serializer="raw",
        value_serializer="raw",
        store="memory://",
        datadir=str(data),
        topic_partitions=settings.partitions,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        web_enabled=False,
        producer_max_request_size=MAX_MESSAGE_BYTES,
        consumer_max_fetch_size=MAX_MESSAGE_BYTES,
        broker_commit_interval=1.0,
        # docs/contract.md#worker-membership: static membership when an instance id is given,
        # and timeouts short enough that a dead worker's partitions move within seconds.
        consumer_group_instance_id=settings.worker_instance_id,
        broker_session_timeout=settings.worker_session_timeout_seconds,
        # The broker expects a heartbeat at least thrice per session.
        broker_heartbeat_interval=min(
            settings.worker_heartbeat_interval_seconds, settings.worker_session_timeout_seconds / 3
        ),
        broker_rebalance_timeout=settings.worker_rebalance_timeout_seconds,
        broker_request_timeout=request_timeout(settings),
    )
    use_read_committed(
        app,
        FetchPolicy(
            min_bytes=settings.consumer_fetch_min_bytes,
            max_wait_ms=settings.consumer_fetch_max_wait_ms,
        ),
    )
    return app
