"""One batch of input records through decode, flag rules, merge or review, and the output events.

Framework-free and synchronous: the faust agent runs it in a thread and acks only after it returns.
A database outage is retried here with backoff (nothing returned, nothing acked); a document that
cannot be merged is flagged, dead-lettered, and the batch goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import TypeVar

import psycopg

from agents.decode import Decoded, RawRecord, Rejected, decode
from agents.outputs import (
    OutputEvent,
    dead_letter_outputs,
    failure_outputs,
    merge_outputs,
    review_outputs,
)
from domain.flag_rules import evaluate
from optimerge.settings import Settings
from schemas import ExtractionResult, ReviewAction
from schemas.events import utc_now
from storage.db import connect, is_transient
from storage.merge import (
    Evaluate,
    IncomingExtraction,
    MergeReport,
    merge_batch,
    record_merge_failure,
)
from storage.review import ReviewReport, apply_review_actions
from streams.topics import Topics

log = logging.getLogger(__name__)
T = TypeVar("T")


class StoppingError(Exception):
    """Shutting down while waiting for the database: abandon the batch, ack nothing."""


@dataclass
class BatchResult:
    outputs: list[OutputEvent] = field(default_factory=list)
    merges: list[MergeReport] = field(default_factory=list)
    reviews: list[ReviewReport] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    merge_failures: int = 0


class BatchProcessor:
    def __init__(
        self,
        settings: Settings,
        *,
        stopping: threading.Event | None = None,
        clock: Callable[[], datetime] = utc_now,
        max_backoff: float = 30.0,
    ) -> None:
        if not settings.database_url:
            raise ValueError("DATABASE_URL is not set")
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.stopping = stopping or threading.Event()
        self.clock = clock
        self.max_backoff = max_backoff
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            assert self.settings.database_url
            self._conn = connect(self.settings.database_url)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _with_retry(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run `work` until it succeeds; only transient (database) errors are retried."""
        delay = 0.2
        while True:
            try:
                return work(self._connection())
            except Exception as exc:
                if not is_transient(exc):
                    raise
                self.close()
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
            if self.stopping.wait(delay):
                raise StoppingError
            delay = min(delay * 2, self.max_backoff)

    def process(self, records: Sequence[RawRecord]) -> BatchResult:
        result = BatchResult()
        received_at = self.clock()
        decoded = [
            (
                decode(
                    r,
                    is_review=r.topic == self.topics.review_actions,
                    max_bytes=self.settings.max_event_bytes,
                ),
                r.value,
            )
            for r in records
        ]
        for run in _runs(decoded):
            first = run[0][0]
            if isinstance(first, Rejected):
                rejected = [e for e, _ in run if isinstance(e, Rejected)]
                result.rejected.extend(rejected)
                result.outputs.extend(dead_letter_outputs(self.topics, rejected))
            elif isinstance(first, ExtractionResult):
                items = [
                    IncomingExtraction(e, received_at, raw=raw)
                    for e, raw in run
                    if isinstance(e, ExtractionResult)
                ]
                self._merge(items, result)
            else:
                actions = [e for e, _ in run if isinstance(e, ReviewAction)]
                reports = self._with_retry(partial(apply_review_actions, actions=actions))
                result.reviews.extend(reports)
                result.outputs.extend(review_outputs(self.topics, reports, self.clock()))
        return result

    def _evaluate(self) -> Evaluate:
        thresholds = self.settings.rules
        return lambda extraction, record: evaluate(extraction, record, thresholds)

    def _merge(self, items: list[IncomingExtraction], result: BatchResult) -> None:
        check = self._evaluate()
        try:
            reports = self._with_retry(lambda c: merge_batch(c, items, evaluate=check))
        except StoppingError:
            raise
        except Exception:
            # One bad document must not sink the batch: find it by merging one at a time.
            reports = []
            for item in items:
                try:
                    merge_one = partial(merge_batch, items=[item], evaluate=check)
                    reports.extend(self._with_retry(merge_one))
                except StoppingError:
                    raise
                except Exception as exc:
                    self._fail(item, exc, result)
        result.merges.extend(reports)
        result.outputs.extend(merge_outputs(self.topics, reports))

    def _fail(self, item: IncomingExtraction, exc: Exception, result: BatchResult) -> None:
        error = f"{type(exc).__name__}: {exc}".strip()
        log.error("document %s could not be merged: %s", item.result.document_id, error)
        try:
            version = self._with_retry(lambda c: record_merge_failure(c, item, error))
        except StoppingError:
            raise
        except Exception:
            # Even the failure could not be recorded: the dead letter still carries the event.
            log.exception("could not record the failure of document %s", item.result.document_id)
            version = 0
        result.merge_failures += 1
        result.outputs.extend(failure_outputs(self.topics, item, error, version, self.clock()))


def _runs(
    decoded: Sequence[tuple[Decoded, bytes | None]],
) -> Iterator[list[tuple[Decoded, bytes | None]]]:
    """Consecutive events of one kind, in arrival order (so merges and reviews interleave right)."""
    run: list[tuple[Decoded, bytes | None]] = []
    for pair in decoded:
        if run and type(pair[0]) is not type(run[0][0]):
            yield run
            run = []
        run.append(pair)
    if run:
        yield run
