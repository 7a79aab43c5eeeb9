"""The app's reader of flagged.items and document.status: a confluent-kafka consumer in a thread.

Every app process must see every event (each has its own browsers), so the reader joins no
consumer group: it assigns itself all partitions from their current end and commits nothing.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaException, TopicPartition

from streams.topics import Topics
from webapp.live import FLAGGED, STATUS, LiveEvent, event_from_message

log = logging.getLogger(__name__)

Sink = Callable[[LiveEvent], object]


class LiveFeed:
    def __init__(
        self,
        bootstrap_servers: str,
        topics: Topics,
        sink: Sink,
        *,
        on_event: Callable[[str], None] | None = None,
        retry_seconds: float = 0.5,
    ) -> None:
        self._kinds = {topics.flagged_items: FLAGGED, topics.document_status: STATUS}
        self._sink = sink
        self._on_event = on_event
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._config = {
            "bootstrap.servers": bootstrap_servers,
            # Required by librdkafka; never joined (assign, not subscribe) and never committed.
            "group.id": f"optimerge-webapp-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "enable.partition.eof": False,
            "fetch.message.max.bytes": 8 * 1024 * 1024,
            "log.connection.close": False,
        }
        self._thread = threading.Thread(target=self._run, name="webapp-live-feed", daemon=True)

    @property
    def ready(self) -> bool:
        """True once reading: events published from now on reach the browsers."""
        return self._ready.is_set()

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout: float) -> bool:
        return self._ready.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _assign_at_end(self, consumer: Consumer) -> bool:
        partitions: list[TopicPartition] = []
        for topic in self._kinds:
            meta = consumer.list_topics(topic, timeout=5).topics.get(topic)
            if meta is None or meta.error is not None or not meta.partitions:
                log.warning("live feed: topic %s is not there yet; retrying", topic)
                return False
            for p in sorted(meta.partitions):
                # Explicit end offsets: a message produced right after we look is not skipped.
                _low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)
                partitions.append(TopicPartition(topic, p, high))
        consumer.assign(partitions)
        return True

    def _run(self) -> None:
        consumer = Consumer(self._config)
        try:
            while not self._stop.is_set() and not self._ready.is_set():
                try:
                    if self._assign_at_end(consumer):
                        self._ready.set()
                        break
                except KafkaException as exc:
                    log.warning("live feed: Kafka is not ready (%s); retrying", exc)
                self._stop.wait(self._retry)
            while not self._stop.is_set():
                msg = consumer.poll(0.5)
                if msg is None:
                    continue
                if msg.error():
                    log.warning("live feed: %s", msg.error())
                    continue
                kind = self._kinds.get(msg.topic() or "")
                value = msg.value()
                if kind is None or value is None:
                    continue
                event = event_from_message(kind, value)
                if event is None:
                    continue
                if self._on_event is not None:
                    self._on_event(kind)
                self._sink(event)
        finally:
            consumer.close()
