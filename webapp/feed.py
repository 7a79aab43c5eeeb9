"""The app's reader of flagged.items and document.status: a confluent-kafka consumer in a thread.

Every app process must see every event (each has its own browsers), so the reader joins no
consumer group: it assigns itself all partitions from their current end and commits nothing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from confluent_kafka import KafkaException

from schemas import DeadLetter, DocumentStatusEvent, FlaggedItem
from streams.consumers import TopicMissingError, assign_all, tail_consumer
from streams.security import Kafka
from streams.topics import BoundTopic, Topics
from webapp.live import DLQ, FLAGGED, STATUS, LiveEvent, live_event

log = logging.getLogger(__name__)

Sink = Callable[[LiveEvent], object]
LiveTopic = BoundTopic[FlaggedItem] | BoundTopic[DocumentStatusEvent] | BoundTopic[DeadLetter]


class LiveFeed:
    def __init__(
        self,
        kafka: Kafka,
        topics: Topics,
        sink: Sink,
        *,
        on_event: Callable[[str], None] | None = None,
        retry_seconds: float = 0.5,
        kinds: frozenset[str] = frozenset({FLAGGED, STATUS, DLQ}),
    ) -> None:
        # Several feeds when principals differ: the dead letters are the operator's to read.
        every: dict[str, tuple[str, LiveTopic]] = {
            topics.flagged_items.name: (FLAGGED, topics.flagged_items),
            topics.document_status.name: (STATUS, topics.document_status),
            topics.dlq.name: (DLQ, topics.dlq),
        }
        self._decoders = {name: kd for name, kd in every.items() if kd[0] in kinds}
        self._kafka = kafka
        self._sink = sink
        self._on_event = on_event
        self._retry = retry_seconds
        self._stop = threading.Event()
        self._ready = threading.Event()
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

    def _run(self) -> None:
        consumer = tail_consumer(self._kafka, purpose="webapp")
        try:
            while not self._stop.is_set() and not self._ready.is_set():
                try:
                    assign_all(consumer, self._decoders, start="end")
                    self._ready.set()
                    break
                except TopicMissingError as exc:
                    log.warning("live feed: %s yet; retrying", exc)
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
                decoder = self._decoders.get(msg.topic() or "")
                value = msg.value()
                if decoder is None or value is None:
                    continue
                kind, topic = decoder
                event = live_event(kind, topic, value)
                if event is None:
                    continue
                if self._on_event is not None:
                    self._on_event(kind)
                self._sink(event)
        finally:
            consumer.close()
