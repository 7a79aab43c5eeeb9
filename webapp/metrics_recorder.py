"""Keeps pipeline.metrics in PostgreSQL for the operator console: a consumer in a group of its
own (app processes share the work), each batch stored, then committed. A window stored twice is
a no-op (its event id is deterministic), so a crash between the two loses and doubles nothing."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence

from pydantic import ValidationError

from schemas.metrics import PipelineMetricsWindow
from streams.consumers import group_consumer
from streams.security import Kafka
from streams.topics import BoundTopic

log = logging.getLogger(__name__)

Store = Callable[[Sequence[PipelineMetricsWindow]], object]


class MetricsRecorder:
    def __init__(
        self,
        kafka: Kafka,
        group_id: str,
        topic: BoundTopic[PipelineMetricsWindow],
        store: Store,
        *,
        retry_seconds: float = 2.0,
    ) -> None:
        self._kafka = kafka
        self._group_id = group_id
        self._topic = topic
        self._store = store
        self._retry = retry_seconds
        self._stop = threading.Event()
        self.recorded = 0
        self._thread = threading.Thread(target=self._run, name="metrics-recorder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except Exception:
                # The database or Kafka is away: a new consumer resumes from the last commit.
                log.warning("metrics recorder: could not store windows; retrying", exc_info=True)
                self._stop.wait(self._retry)

    def _consume(self) -> None:
        consumer = group_consumer(self._kafka, self._group_id, **{"log.connection.close": False})
        consumer.subscribe([self._topic.name])
        try:
            while not self._stop.is_set():
                messages = consumer.consume(num_messages=500, timeout=0.5)
                if not messages:
                    continue
                windows = []
                for msg in messages:
                    if msg.error():
                        continue
                    try:
                        windows.append(self._topic.decode(msg.value() or b""))
                    except ValidationError:
                        continue  # not a window: nothing to keep
                self._store(windows)
                consumer.commit(asynchronous=False)
                self.recorded += len(windows)
        finally:
            consumer.close()
