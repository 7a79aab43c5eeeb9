"""One batch of input records through decode, the merge service, and the output events.

Framework-free and synchronous: the faust agent runs it in a thread and acks only after it
returns. A database outage is retried here with backoff (nothing returned, nothing acked); a
document that cannot be merged is flagged, dead-lettered, and the batch goes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TypeVar

import psycopg

from config import ResolvedSettings
from domain.reports import FailureReport, IncomingExtraction, MergeReport, ReviewReport
from pipeline.decode import Decoded, RawRecord, Rejected, decode
from pipeline.outputs import (
    OutputEvent,
    dead_letter_outputs,
    failure_outputs,
    merge_outputs,
    review_outputs,
)
from pipeline.service import MergeService, judge_with
from pipeline.signatures import SignatureGate
from schemas import ExtractionResult, ReviewAction
from schemas.events import Clock, utc_now
from storage.db import connect, is_transient
from streams.topics import EXTRACTION_RESULTS, Topics

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
    failures: list[FailureReport] = field(default_factory=list)


class BatchProcessor:
    def __init__(
        self,
        settings: ResolvedSettings,
        *,
        stopping: threading.Event | None = None,
        clock: Clock = utc_now,
        max_backoff: float = 30.0,
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        self.service = MergeService(judge_with(settings.rules), clock)
        self.signatures = SignatureGate.from_settings(settings, clock)
        self.stopping = stopping or threading.Event()
        self.clock = clock
        self.max_backoff = max_backoff
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
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
        decoded = [(self._decode(r), r) for r in records]
        for run in _runs(decoded):
            first = run[0][0]
            if isinstance(first, Rejected):
                rejected = [e for e, _ in run if isinstance(e, Rejected)]
                result.rejected.extend(rejected)
                result.outputs.extend(dead_letter_outputs(self.topics, rejected))
            elif isinstance(first, ExtractionResult):
                items = [
                    IncomingExtraction(e, received_at, raw=r.value)
                    for e, r in run
                    if isinstance(e, ExtractionResult)
                ]
                self._merge(items, result)
            else:
                # Only signed, fresh, first-seen actions go on (pipeline/signatures.py).
                pairs = [(r, e) for e, r in run if isinstance(e, ReviewAction)]
                screened = self._with_retry(partial(self.signatures.screen, pairs=pairs))
                result.rejected.extend(screened.rejected())
                result.outputs.extend(screened.outputs(self.topics, self.clock))
                actions = screened.actions()
                reports = self._with_retry(partial(self.service.review, actions=actions))
                result.reviews.extend(reports)
                result.outputs.extend(review_outputs(self.topics, reports, self.clock()))
        return result

    def _decode(self, record: RawRecord) -> Decoded:
        spec = self.topics.spec_named(record.topic)
        topic = spec if spec is not None and spec.is_input else EXTRACTION_RESULTS
        return decode(record, topic=topic, max_bytes=self.settings.max_event_bytes)

    def _merge(self, items: list[IncomingExtraction], result: BatchResult) -> None:
        try:
            reports = self._with_retry(lambda c: self.service.merge(c, items))
        except StoppingError:
            raise
        except Exception:
            # One bad document must not sink the batch: find it by merging one at a time.
            reports = []
            for item in items:
                try:
                    reports.extend(self._with_retry(partial(self.service.merge, items=[item])))
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
            version = self._with_retry(lambda c: self.service.record_failure(c, item, error))
        except StoppingError:
            raise
        except Exception:
            # Even the failure could not be recorded: the dead letter still carries the event.
            log.exception("could not record the failure of document %s", item.result.document_id)
            version = 0
        failure = FailureReport(item, error, version)
        result.failures.append(failure)
        result.outputs.extend(failure_outputs(self.topics, failure, self.clock()))


def _runs(
    decoded: Sequence[tuple[Decoded, RawRecord]],
) -> Iterator[list[tuple[Decoded, RawRecord]]]:
    """Consecutive events of one kind, in arrival order (so merges and reviews interleave right)."""
    run: list[tuple[Decoded, RawRecord]] = []
    for pair in decoded:
        if run and type(pair[0]) is not type(run[0][0]):
            yield run
            run = []
        run.append(pair)
    if run:
        yield run
