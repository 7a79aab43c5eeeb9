"""The merge worker: the batch processor, where its outputs go, and the metrics it keeps. The
faust agent only loops, hands it batches and acks; a test hands it batches directly.

A batch's outputs may be sent without waiting for Kafka's acknowledgement when the next batch
is already waiting (`defer_delivery`): they are delivered while that one merges, and the next
call waits for both. A batch is settled (its outputs confirmed, one by one) before it is acked;
one whose outputs were not all confirmed is handled again, with every batch after it, waiting
this time."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
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
from pipeline.isolation import StoppingError, run_isolated
from pipeline.outputs import record_letter
from schemas.events import Clock, utc_now
from schemas.metrics import PipelineMetricsWindow
from storage.db import is_transient
from streams.producer import EventProducer, is_delivery_outage
from streams.topics import Topics

log = logging.getLogger(__name__)

# Batches sent without waiting, at most: past that, the worker waits for their outputs.
MAX_UNSETTLED = 4


class OutputSink(Protocol):
    """Where a worker's output events go: Kafka in production (EventProducer)."""

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | bytes | None = None,
        on_delivered: Callable[[int, int], None] | None = None,
    ) -> None: ...

    def flush(self, timeout: float = 30.0) -> None: ...


@dataclass
class _SentBatch:
    """A batch merged and its outputs sent; settled once Kafka has confirmed every one."""

    records: list[RawRecord]
    result: BatchResult
    received: datetime
    committed: datetime
    confirmed: int = field(default=0)

    def confirm(self, _partition: int, _offset: int) -> None:
        # From the delivery reports, in whichever thread flushes (two may race: a count lost
        # that way only gets the batch handled again, never acked unconfirmed).
        self.confirmed += 1

    @property
    def delivered(self) -> bool:
        return self.confirmed >= len(self.result.outputs)


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
        self._unsettled: list[_SentBatch] = []

    def handle_until_done(
        self, records: list[RawRecord], *, defer_delivery: Callable[[], bool] | None = None
    ) -> bool:
        """Handle the batch whatever it holds: outages are waited out, and an event that keeps
        failing is split out and dead-lettered `stuck` (pipeline/isolation.py). Raises
        StoppingError when the worker stops meanwhile (nothing is acked then).

        With `defer_delivery`, asked once the batch is merged and sent, its outputs are not
        waited for while it says so (the next batch has arrived; see the module docstring).
        Returns True when this batch and every one before it are settled (they may be acked),
        False when this one's delivery is left to overlap the next batch."""
        if defer_delivery is not None and len(self._unsettled) < MAX_UNSETTLED:
            try:
                sent = self._merge_and_send(records)
            except StoppingError:
                raise
            except Exception as exc:
                log.warning("batch not sent (%s): handled again, waiting for its outputs", exc)
            else:
                self._unsettled.append(sent)
                if defer_delivery():
                    return False
                self.settle()
                return True
        self.settle()
        run_isolated(
            records,
            self.handle,
            is_outage=lambda exc: is_transient(exc) or is_delivery_outage(exc),
            on_stuck=self._set_aside,
            wait=self.stopping.wait,
            tries=self.settings.stuck_after_tries,
        )
        return True

    def settle(self) -> None:
        """Wait for the outputs of the batches sent without waiting, and count those batches. A
        batch whose outputs were not all confirmed is handled again with those after it, waiting
        this time: the merge is idempotent and sends the same outputs again
        (docs/contract.md#merge-semantics)."""
        if not self._unsettled:
            return
        unsettled, self._unsettled = self._unsettled, []
        try:
            self.sink.flush()
        except Exception as exc:
            log.warning("outputs not delivered (%s): their batches are handled again", exc)
        # From the first batch not confirmed on, all are handled again, in order: a later
        # batch may hold a newer version of one of its documents, and must stay the last word.
        failed = next((n for n, sent in enumerate(unsettled) if not sent.delivered), None)
        now = self.clock()
        for sent in unsettled[:failed]:
            self._count(sent, now)
        for sent in unsettled[len(unsettled) if failed is None else failed :]:
            self.handle_until_done(sent.records)

    def _set_aside(self, record: RawRecord, error: BaseException) -> None:
        reason = (
            f"failed {self.settings.stuck_after_tries} times and was set aside: "
            f"{type(error).__name__}: {error}"
        )
        log.error(
            "record %s:%d:%d is stuck: %s", record.topic, record.partition, record.offset, error
        )
        now = self.clock()
        letter = record_letter(self.topics, record, "stuck", reason, now)
        stuck = BatchResult(outputs=[letter], stuck=[record])
        self._deliver(self._send(_SentBatch([record], stuck, now, now)))

    def handle(self, records: list[RawRecord]) -> BatchResult:
        """Write the batch, then publish its outputs; returns only when both are done."""
        return self._deliver(self._merge_and_send(records))

    def _merge_and_send(self, records: list[RawRecord]) -> _SentBatch:
        received = self.clock()
        result = self.processor.process(records)
        return self._send(_SentBatch(records, result, received, self.clock()))

    def _send(self, sent: _SentBatch) -> _SentBatch:
        for out in sent.result.outputs:
            self.sink.send(out.topic, out.value, key=out.key, on_delivered=sent.confirm)
        return sent

    def _deliver(self, sent: _SentBatch) -> BatchResult:
        """Wait for the outputs sent, then count the batch."""
        self.sink.flush()
        self._count(sent, self.clock())
        return sent.result

    def _count(self, sent: _SentBatch, delivered: datetime) -> None:
        """The batch's figures: its stages, metrics windows, counters and consumer positions."""
        result = sent.result
        queued = [
            (sent.received - m.incoming.result.uploaded_at).total_seconds()
            for m in result.merges
            if m.decision.writes
        ]
        self.stages.observe_batch(
            queued,
            (sent.committed - sent.received).total_seconds(),
            (delivered - sent.committed).total_seconds(),
        )
        with self._metrics_lock:
            observe_batch(self.windows, result, delivered)
            self.prometheus.observe_batch(result, delivered)
            for r in sent.records:
                self.positions[(r.topic, r.partition)] = r.offset + 1
            self.last_batch_at = delivered
            self.batches += 1

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
