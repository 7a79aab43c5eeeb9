"""The merge agent: batches from extraction.results and review.actions, acked only once written.

faust's `take()` acks its batch in a `finally` even when the body raises; `noack_take()` does
not, so a batch that was not written (crash, outage, shutdown) is redelivered, never lost.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
from datetime import UTC, datetime
from typing import Any

import faust
from prometheus_client import CollectorRegistry

from agents.decode import RawRecord
from agents.metrics_bridge import observe_batch
from agents.pipeline import BatchProcessor, BatchResult, StoppingError
from domain.metrics_window import WindowedMetrics
from optimerge.prom import PipelineMetrics
from optimerge.settings import Settings
from schemas.events import utc_now
from schemas.metrics import PipelineMetricsWindow
from streams.producer import EventProducer
from streams.topics import Topics

log = logging.getLogger(__name__)


def raw_record(event: Any) -> RawRecord:
    message = event.message
    return RawRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp=datetime.fromtimestamp(message.timestamp, UTC),
    )


class MergeWorker:
    """Owns the processor, the output producer and the metrics; the agent only loops and acks."""

    def __init__(self, settings: Settings, registry: CollectorRegistry | None = None) -> None:
        assert settings.kafka_bootstrap_servers
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.stopping = threading.Event()
        self.processor = BatchProcessor(settings, stopping=self.stopping)
        self.producer = EventProducer(settings.kafka_bootstrap_servers)
        self.registry = registry or CollectorRegistry()
        self.prometheus = PipelineMetrics.create(self.registry)
        # Unique per process run, so a restarted worker's windows never share an event id.
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{int(utc_now().timestamp())}"
        self.windows = WindowedMetrics(worker_id, settings.metrics_window_seconds, utc_now)
        self._metrics_lock = threading.Lock()
        # Next offset to process per (topic, partition): the consumer lag is measured from it.
        self.positions: dict[tuple[str, int], int] = {}

    def handle(self, records: list[RawRecord]) -> BatchResult:
        """Write the batch, then publish its outputs; returns only when both are done."""
        result = self.processor.process(records)
        for out in result.outputs:
            self.producer.send(out.topic, out.value, key=out.key)
        self.producer.flush()
        now = utc_now()
        with self._metrics_lock:
            observe_batch(self.windows, result, now)
            self.prometheus.observe_batch(result, now)
            for r in records:
                self.positions[(r.topic, r.partition)] = r.offset + 1
        return result

    def publish_windows(self, *, final: bool = False) -> int:
        """Publish every closed metrics window (all of them when the worker stops)."""
        with self._metrics_lock:
            due = self.windows.flush() if final else self.windows.close_due()
        self._publish(due)
        return len(due)

    def _publish(self, windows: list[PipelineMetricsWindow]) -> None:
        for window in windows:
            self.producer.send(
                self.topics.pipeline_metrics,
                window.model_dump_json().encode(),
                key=window.worker_id,
            )
        if windows:
            self.producer.flush()

    def set_lag(self, highwaters: dict[tuple[str, int], int]) -> None:
        with self._metrics_lock:
            lags = {
                tp: max(0, hw - self.positions[tp])
                for tp, hw in highwaters.items()
                if tp in self.positions
            }
            self.prometheus.set_consumer_lag(lags)

    def close(self) -> None:
        self.stopping.set()
        try:
            self.publish_windows(final=True)
        except Exception:
            log.exception("could not publish the last metrics window")
        self.processor.close()


def register_merge_agent(app: faust.App, worker: MergeWorker) -> Any:
    settings = worker.settings
    topic = app.topic(*worker.topics.inputs())

    @app.agent(topic, name="merge")
    async def merge(stream: Any) -> None:
        async for events in stream.noack_take(
            settings.batch_max_events, within=settings.batch_within_seconds
        ):
            records = [raw_record(e) for e in events]
            await _handle_until_done(worker, records)
            for event in events:
                await stream.ack(event)

    @app.timer(interval=min(5.0, settings.metrics_window_seconds / 4))  # type: ignore[untyped-decorator]
    async def publish_metrics() -> None:
        highwaters: dict[tuple[str, int], int] = {}
        for tp in app.consumer.assignment():
            hw = app.consumer.highwater(tp)
            if hw is not None:
                highwaters[(tp.topic, tp.partition)] = hw
        worker.set_lag(highwaters)
        await asyncio.to_thread(worker.publish_windows)

    return merge


async def _handle_until_done(worker: MergeWorker, records: list[RawRecord]) -> None:
    """Retry a batch that failed for a reason outside the data (e.g. Kafka down) with backoff."""
    delay = 0.5
    while True:
        try:
            await asyncio.to_thread(worker.handle, records)
            return
        except asyncio.CancelledError:
            worker.stopping.set()
            raise
        except StoppingError:
            raise asyncio.CancelledError from None
        except Exception:
            log.exception("batch of %d records failed; retrying in %.1f s", len(records), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
