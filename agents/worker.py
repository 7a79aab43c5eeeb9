"""The merge worker: the batch processor, where its outputs go, and the metrics it keeps. The
faust agent only loops, hands it batches and acks; a test hands it batches directly."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import datetime
from typing import Protocol

from prometheus_client import CollectorRegistry

from agents.prometheus import PipelineMetrics
from agents.stages import StageHistogram
from config import ResolvedSettings
from domain.metrics_window import WindowedMetrics
from pipeline.batch import BatchProcessor, BatchResult
from pipeline.decode import RawRecord
from pipeline.facts import observe_batch
from pipeline.isolation import run_isolated
from pipeline.outputs import record_letter
from schemas.events import Clock, utc_now
from schemas.metrics import PipelineMetricsWindow
from storage.db import is_transient
from streams.producer import EventProducer, is_delivery_outage
from streams.topics import Topics

log = logging.getLogger(__name__)


class OutputSink(Protocol):
    """Where a worker's output events go: Kafka in production (EventProducer)."""

    def send(self, topic: str, value: bytes, *, key: str | bytes | None = None) -> None: ...

    def flush(self, timeout: float = 30.0) -> None: ...


class MergeWorker:
    def __init__(
        self,
        settings: ResolvedSettings,
        *,
        registry: CollectorRegistry | None = None,
        sink: OutputSink | None = None,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.stopping = threading.Event()
        self.clock = clock
        # Unique per process run, so a restarted worker's windows never share an event id.
        worker_id = f"{socket.gethostname()}:{os.getpid()}:{int(clock().timestamp())}"
        # Who holds which lock, in pg_stat_activity: the instance id (a pod's name) if any.
        name = f"optimerge-worker {settings.worker_instance_id or worker_id}"
        self.processor = BatchProcessor(
            settings, stopping=self.stopping, clock=clock, application_name=name
        )
        self.sink: OutputSink = sink or EventProducer(settings.kafka_endpoint)
        self.registry = registry or CollectorRegistry()
        self.prometheus = PipelineMetrics.create(self.registry)
        self.stages = StageHistogram(self.registry)
        self.windows = WindowedMetrics(worker_id, settings.metrics_window_seconds, clock)
        self._metrics_lock = threading.Lock()
        # Next offset to process per (topic, partition): the consumer lag is measured from it.
        self.positions: dict[tuple[str, int], int] = {}
        self.started_at = clock()
        self.last_batch_at: datetime | None = None
        self.batches = 0

    def handle_until_done(self, records: list[RawRecord]) -> None:
        """Handle the batch whatever it holds: outages are waited out, and an event that keeps
        failing is split out and dead-lettered `stuck` (pipeline/isolation.py). Raises
        StoppingError when the worker stops meanwhile (nothing is acked then)."""
        run_isolated(
            records,
            self.handle,
            is_outage=lambda exc: is_transient(exc) or is_delivery_outage(exc),
            on_stuck=self._set_aside,
            wait=self.stopping.wait,
            tries=self.settings.stuck_after_tries,
        )

    def _set_aside(self, record: RawRecord, error: BaseException) -> None:
        reason = (
            f"failed {self.settings.stuck_after_tries} times and was set aside: "
            f"{type(error).__name__}: {error}"
        )
        log.error(
            "record %s:%d:%d is stuck: %s", record.topic, record.partition, record.offset, error
        )
        letter = record_letter(self.topics, record, "stuck", reason, self.clock())
        self._publish_outputs(BatchResult(outputs=[letter], stuck=[record]), [record])

    def handle(self, records: list[RawRecord]) -> BatchResult:
        """Write the batch, then publish its outputs; returns only when both are done."""
        received = self.clock()
        result = self.processor.process(records)
        committed = self.clock()
        delivered = self._publish_outputs(result, records)
        queued = [
            (received - m.incoming.result.uploaded_at).total_seconds()
            for m in result.merges
            if m.decision.writes
        ]
        self.stages.observe_batch(
            queued,
            (committed - received).total_seconds(),
            (delivered - committed).total_seconds(),
        )
        return result

    def _publish_outputs(self, result: BatchResult, records: list[RawRecord]) -> datetime:
        """Send and flush the outputs, then count the batch; returns when the flush returned."""
        for out in result.outputs:
            self.sink.send(out.topic, out.value, key=out.key)
        self.sink.flush()
        now = self.clock()
        with self._metrics_lock:
            observe_batch(self.windows, result, now)
            self.prometheus.observe_batch(result, now)
            for r in records:
                self.positions[(r.topic, r.partition)] = r.offset + 1
            self.last_batch_at = now
            self.batches += 1
        return now

    def publish_windows(self, *, final: bool = False) -> int:
        """Publish every closed metrics window (all of them when the worker stops)."""
        with self._metrics_lock:
            due = self.windows.flush() if final else self.windows.close_due()
        self._publish(due)
        return len(due)

    def _publish(self, windows: list[PipelineMetricsWindow]) -> None:
        topic = self.topics.pipeline_metrics
        for window in windows:
            self.sink.send(topic.name, topic.encode(window), key=topic.key(window))
        if windows:
            self.sink.flush()

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
