"""The notifier loop: a consumer of flagged.items in a group of its own, the digest and the alert
checks on timers (docs/contract.md#notifications).

Exactly once to a receiver: a notification's id is deterministic; it is sent until the receiver
answers 2xx, then written to the delivery log (PostgreSQL), and only once every notification of a
polled batch is logged are the batch's offsets committed. A crash after a send and before its log
row re-sends that one notification with the same id, which the receiver drops by the header; a
crash before the commit redelivers items whose notifications the log already has: none re-sent."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from datetime import timedelta

import psycopg
from confluent_kafka import Consumer
from pydantic import ValidationError

from config import ResolvedSettings
from domain.notifications import (
    Notification,
    alert_notifications,
    digest_notifications,
    flagged_notifications,
)
from optimerge.notify.webhook import deliver
from pipeline.health import check_health
from schemas.events import Clock, utc_now
from storage import notifications as log_store
from storage.db import connect
from streams.consumers import group_consumer
from streams.groups import notify_group_id
from streams.health import messages_on
from streams.topics import Topics

log = logging.getLogger(__name__)


class NotifyConfigError(ValueError):
    pass


class Notifier:
    def __init__(self, settings: ResolvedSettings, *, clock: Clock = utc_now) -> None:
        if not settings.notify.channels:
            raise NotifyConfigError(
                "no notification channel is configured: set OPTIMERGE_NOTIFY__CHANNELS (a JSON "
                'list like [{"name": "reviewers", "url": "https://...", "format": "slack"}]) or '
                "[[notify.channels]] in the OPTIMERGE_CONFIG file"
            )
        self.settings = settings
        self.config = settings.notify
        self.topics = Topics(settings.topic_prefix)
        self.group_id = notify_group_id(settings)
        self.clock = clock
        self.stopping = threading.Event()
        self.sent = 0
        self._conn: psycopg.Connection | None = None
        self._next_digest = 0.0
        self._next_alert_check = 0.0
        self._dead_letters_seen: int | None = None

    def _db(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            # The app's role: the notifier reads what the app shows, writes its deliveries.
            self._conn = connect(self.settings.app_url, autocommit=True)
        return self._conn

    def run(self) -> None:
        consumer = group_consumer(self.settings.kafka_endpoint, self.group_id)
        consumer.subscribe([self.topics.flagged_items.name])
        try:
            while not self.stopping.is_set():
                self._poll(consumer)
                self._periodic()
        finally:
            consumer.close()
            if self._conn is not None:
                self._conn.close()

    def _poll(self, consumer: Consumer) -> None:
        messages = consumer.consume(num_messages=100, timeout=0.5)
        if not messages:
            return
        for msg in messages:
            if msg.error():
                log.warning("notify: %s", msg.error())
                continue
            try:
                item = self.topics.flagged_items.decode(msg.value() or b"")
            except ValidationError:
                continue  # not a FlaggedItem: nothing to tell anyone
            if not self.send(flagged_notifications(item, self.config)):
                return  # stopping: commit nothing, the rest comes back next time
        consumer.commit(asynchronous=False)

    def send(self, notifications: Sequence[Notification]) -> bool:
        """Deliver those not delivered yet; False when stopped before all were."""
        done = log_store.delivered(self._db(), [n.notification_id for n in notifications])
        for n in notifications:
            if n.notification_id in done:
                continue
            delivery = deliver(n, self.config, self.clock(), self.stopping)
            if delivery is None:
                return False
            log_store.record_delivery(
                self._db(), n, delivery.attempts, delivery.status, self.clock()
            )
            if delivery.ok:
                self.sent += 1
        return True

    def _periodic(self) -> None:
        now = time.monotonic()
        if now >= self._next_digest:
            self._next_digest = now + self.config.digest_every_seconds
            self.digest()
        if now >= self._next_alert_check:
            self._next_alert_check = now + self.config.alert_check_seconds
            self.check_alerts()

    def digest(self) -> None:
        now = self.clock()
        before = now - timedelta(days=self.config.digest_after_days)
        waiting = log_store.waiting_flagged(self._db(), before)
        self.send(digest_notifications(waiting, now, self.config))

    def check_alerts(self) -> None:
        now = self.clock()
        report = check_health(self.settings, clock=self.clock, timeout=5.0)
        workers = report.component("workers")
        if workers.status == "down":
            self.send(
                alert_notifications(
                    "no_workers",
                    f"No optimerge worker is alive: nothing is merging ({workers.summary}).",
                    {"status_url": f"{self.config.app_url.rstrip('/')}/ops/"},
                    now,
                    self.config,
                )
            )
        count = messages_on(self.settings.kafka_endpoint, self.topics.dlq.name)
        previous, self._dead_letters_seen = self._dead_letters_seen, count
        if count is not None and previous is not None and count > previous:
            grew = count - previous
            self.send(
                alert_notifications(
                    "dlq_growing",
                    f"{grew} new dead letter(s) in the last check; {count} in all.",
                    {
                        "new": grew,
                        "total": count,
                        "dlq_url": f"{self.config.app_url.rstrip('/')}/ops/dlq/",
                    },
                    now,
                    self.config,
                )
            )
