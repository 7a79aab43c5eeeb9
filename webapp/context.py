"""What the app's endpoints share: settings, the database pool, the action sender, the live hub.

Built by `create_app`, opened and closed by its lifespan; nothing lives at module level."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Concatenate, ParamSpec, TypeVar

import psycopg
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from config import KafkaEndpoint, ResolvedSettings
from domain.audit_keys import AuditKeyring
from domain.signing import SigningKey
from schemas.events import Clock
from storage.accounts import schema_ready
from storage.db import configure_connection
from storage.metrics_store import record_windows
from storage.queue import QueueSummary, queue_summary
from streams.groups import metrics_store_group_id
from streams.producer import EventProducer
from streams.topics import Topics
from webapp.actions import ActionSender
from webapp.feed import LiveFeed
from webapp.live import DLQ, FLAGGED, STATUS, LiveHub
from webapp.metrics import AppMetrics
from webapp.metrics_recorder import MetricsRecorder
from webapp.settings import AppSettings
from webapp.throttle import LoginThrottle

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


class NotReadyError(RuntimeError):
    pass


@dataclass
class AppContext:
    settings: ResolvedSettings
    app_settings: AppSettings
    topics: Topics
    clock: Clock
    templates: Jinja2Templates
    metrics: AppMetrics
    registry: CollectorRegistry
    throttle: LoginThrottle
    # MACs the audit entries of dead-letter retries; verifies the audit page's records.
    keyring: AuditKeyring
    # Signs every review action the app publishes (docs/contract.md#signatures).
    signer: SigningKey
    metrics_token: SecretStr
    hub: LiveHub = field(default_factory=LiveHub)
    pool: ConnectionPool | None = None
    sender: ActionSender | None = None
    feed: LiveFeed | None = None
    # The dead letters' live feed, read as the console's principal (when one is configured).
    dlq_feed: LiveFeed | None = None
    recorder: MetricsRecorder | None = None

    @property
    def console_kafka(self) -> KafkaEndpoint | None:
        """Kafka as the operator console acts on it (dead letters), or None if not configured."""
        console = self.app_settings.console_kafka
        if console is None:
            return None
        return KafkaEndpoint(self.settings.kafka_bootstrap_servers, console)

    def open(self) -> None:
        """Open the pool, the producer and the live feed (in a worker thread: all blocking)."""
        pool = ConnectionPool(
            # The app's own role (docs/contract.md#database-roles).
            self.settings.app_url,
            min_size=1,
            max_size=self.app_settings.db_pool_max,
            kwargs={"autocommit": True},
            configure=configure_connection,
            # Checked as it is handed out (one round trip): after a failover every idle
            # connection is to the dead primary, and each would fail one request.
            check=ConnectionPool.check_connection,
            open=False,
            name="webapp",
        )
        pool.open(wait=True, timeout=15)
        self.pool = pool
        with pool.connection() as conn:
            if not schema_ready(conn):
                raise NotReadyError(
                    "the database has no users table yet: run `optimerge migrate` first"
                )
        kafka = self.settings.kafka_endpoint
        self.sender = ActionSender(
            # Idle connections are closed by brokers; that is no news for the app's log.
            EventProducer(kafka, **{"log.connection.close": False}),
            self.topics.review_actions,
            self.app_settings.publish_timeout_seconds,
            self.signer,
        )
        if self.app_settings.live_updates:
            self.feed = LiveFeed(
                kafka,
                self.topics,
                self.hub.publish,
                on_event=lambda kind: self.metrics.live_events.labels(kind).inc(),
                kinds=frozenset({FLAGGED, STATUS}),
            )
            self.feed.start()
            if (console := self.console_kafka) is not None:
                self.dlq_feed = LiveFeed(
                    console,
                    self.topics,
                    self.hub.publish,
                    on_event=lambda kind: self.metrics.live_events.labels(kind).inc(),
                    kinds=frozenset({DLQ}),
                )
                self.dlq_feed.start()
        if self.app_settings.record_metrics:
            self.recorder = MetricsRecorder(
                kafka,
                metrics_store_group_id(self.settings),
                self.topics.pipeline_metrics,
                lambda windows: self.run_db(record_windows, windows),
            )
            self.recorder.start()

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.stop()
            self.recorder = None
        for feed in (self.feed, self.dlq_feed):
            if feed is not None:
                feed.stop()
        self.feed = self.dlq_feed = None
        if self.sender is not None:
            self.sender.close()
            # Dropped, so librdkafka's client goes now rather than at some later collection.
            self.sender = None
        if self.pool is not None:
            self.pool.close()
            self.pool = None

    def run_db(
        self,
        fn: Callable[Concatenate[psycopg.Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        if self.pool is None:
            raise NotReadyError("the database pool is not open")
        with self.pool.connection() as conn:
            return fn(conn, *args, **kwargs)

    def queue_summary(self) -> QueueSummary | None:
        if self.pool is None:
            return None
        overdue_before = self.clock() - timedelta(days=self.app_settings.overdue_after_days)
        return self.run_db(queue_summary, overdue_before)


def ctx(request: Request) -> AppContext:
    context: AppContext = request.app.state.ctx
    return context


async def db(
    request: Request,
    fn: Callable[Concatenate[psycopg.Connection, P], T],
    *args: P.args,
    **kwargs: P.kwargs,
) -> T:
    """Run `fn(conn, ...)` on a pooled connection in a worker thread."""
    context = ctx(request)

    def call() -> T:
        return context.run_db(fn, *args, **kwargs)

    return await run_in_threadpool(call)
