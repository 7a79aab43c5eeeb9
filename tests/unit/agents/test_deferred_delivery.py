"""A batch's outputs delivered while the next batch merges (agents/worker.py): never settled (so
never acked) before Kafka confirmed every output; a batch whose outputs were not all confirmed
is handled again, in order, waiting this time. No I/O: a stub processor and a sink that, like
librdkafka, confirms messages only when flushed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agents.worker import MAX_UNSETTLED, MergeWorker
from config import Settings
from pipeline.batch import BatchResult
from pipeline.decode import RawRecord
from pipeline.outputs import OutputEvent

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass
class ConfirmingSink:
    """Queues messages; a flush confirms them, except the ones `lost` names (by value)."""

    lost: set[bytes] = field(default_factory=set)
    queued: list[tuple[bytes, Callable[[int, int], None] | None]] = field(default_factory=list)
    delivered: list[bytes] = field(default_factory=list)
    flushes: int = 0

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | bytes | None = None,
        on_delivered: Callable[[int, int], None] | None = None,
    ) -> None:
        self.queued.append((value, on_delivered))

    def flush(self, timeout: float = 30.0) -> None:
        self.flushes += 1
        queued, self.queued = self.queued, []
        for value, report in queued:
            if value in self.lost:
                self.lost.discard(value)  # lost once: the next attempt gets through
                continue
            self.delivered.append(value)
            if report is not None:
                report(0, len(self.delivered))


class StubProcessor:
    """One output per record, its value the record's own; the records merged, in order."""

    def __init__(self) -> None:
        self.merged: list[bytes] = []

    def process(self, records: list[RawRecord]) -> BatchResult:
        self.merged.extend(r.value for r in records)
        return BatchResult(outputs=[OutputEvent("status", None, r.value) for r in records])

    def close(self) -> None:
        pass


def batch(*values: str) -> list[RawRecord]:
    return [RawRecord("in", 0, n, b"k", v.encode(), NOW) for n, v in enumerate(values)]


def worker(sink: ConfirmingSink) -> tuple[MergeWorker, StubProcessor]:
    settings = Settings().resolved(
        kafka_bootstrap_servers="127.0.0.1:9", database_url="postgresql://x@h/x"
    )
    w = MergeWorker(settings, sink=sink, clock=lambda: NOW)
    stub = StubProcessor()
    w.processor = stub  # type: ignore[assignment]
    return w, stub


def test_a_deferred_batch_is_settled_with_the_next_one_and_only_once_confirmed() -> None:
    sink = ConfirmingSink()
    w, _ = worker(sink)
    assert w.handle_until_done(batch("a1", "a2"), defer_delivery=lambda: True) is False
    assert sink.flushes == 0 and w.batches == 0  # sent, not waited for, not counted
    assert w.handle_until_done(batch("b1"), defer_delivery=lambda: False) is True
    assert sink.delivered == [b"a1", b"a2", b"b1"]
    assert w.batches == 2


def test_without_the_next_batch_waiting_the_outputs_are_waited_for_at_once() -> None:
    sink = ConfirmingSink()
    w, _ = worker(sink)
    assert w.handle_until_done(batch("a1"), defer_delivery=lambda: False) is True
    assert sink.delivered == [b"a1"] and w.batches == 1


def test_outputs_not_confirmed_get_their_batch_handled_again_in_order() -> None:
    sink = ConfirmingSink(lost={b"a2"})
    w, stub = worker(sink)
    w.handle_until_done(batch("a1", "a2"), defer_delivery=lambda: True)
    w.handle_until_done(batch("b1"), defer_delivery=lambda: True)
    assert w.handle_until_done(batch("c1"), defer_delivery=lambda: False) is True
    # a2 was lost at the first flush: from a's batch on, all went again, in order, so that
    # what was sent last for any document is still what was merged last.
    assert sink.delivered == [b"a1", b"b1", b"c1", b"a1", b"a2", b"b1", b"c1"]
    assert stub.merged == [b"a1", b"a2", b"b1", b"c1", b"a1", b"a2", b"b1", b"c1"]


def test_no_more_than_a_few_batches_wait_for_their_outputs() -> None:
    sink = ConfirmingSink()
    w, _ = worker(sink)
    settled = [
        w.handle_until_done(batch(f"x{n}"), defer_delivery=lambda: True)
        for n in range(MAX_UNSETTLED + 1)
    ]
    assert settled == [False] * MAX_UNSETTLED + [True]
    assert len(sink.delivered) == MAX_UNSETTLED + 1 and sink.flushes == 2


def test_without_deferral_each_batch_is_waited_for() -> None:
    sink = ConfirmingSink()
    w, _ = worker(sink)
    assert w.handle_until_done(batch("a1")) is True
    assert w.handle_until_done(batch("b1")) is True
    assert sink.flushes == 2 and sink.delivered == [b"a1", b"b1"]
