"""One batch of input records through decode, the merge service, and the output events.

Framework-free and synchronous: the faust agent runs it in a thread and acks only after it
returns. A database outage is retried here with backoff (nothing returned, nothing acked). Every
stage contains its failures per event (docs/contract.md#merge-semantics): an event refused at
the edge is dead-lettered from its raw bytes and recorded on the document it names; a document
that cannot be merged is flagged and dead-lettered; an action the database refuses is answered
`invalid`; the batch goes on.
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
from domain.reports import (
    FailedEvent,
    FailureReport,
    IncomingExtraction,
    MergeReport,
    RefusedExtraction,
    ReviewReport,
)
from domain.review_plan import REFUSED_AT_INPUT, ReviewOutcome
from pipeline.decode import Decoded, RawRecord, Rejected, decode
from pipeline.isolation import StoppingError
from pipeline.outputs import (
    OutputEvent,
    dead_letter_outputs,
    failure_outputs,
    merge_outputs,
    record_letter,
    refused_action_status,
    review_outputs,
)
from pipeline.rule_sets import ActiveRuleSet
from pipeline.service import MergeService
from pipeline.signatures import SignatureGate
from schemas import ExtractionResult, ReviewAction
from schemas.events import Clock, utc_now
from storage.db import is_transient, worker_connection
from storage.errors import describe_error
from streams.topics import EXTRACTION_RESULTS, REVIEW_ACTIONS, Topics

log = logging.getLogger(__name__)
T = TypeVar("T")

__all__ = ["BatchProcessor", "BatchResult", "StoppingError"]


@dataclass
class BatchResult:
    outputs: list[OutputEvent] = field(default_factory=list)
    merges: list[MergeReport] = field(default_factory=list)
    reviews: list[ReviewReport] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    failures: list[FailureReport] = field(default_factory=list)
    # Records set aside as `stuck` (pipeline/isolation.py).
    stuck: list[RawRecord] = field(default_factory=list)


Item = tuple[RawRecord, Decoded]


class BatchProcessor:
    def __init__(
        self,
        settings: ResolvedSettings,
        *,
        stopping: threading.Event | None = None,
        clock: Clock = utc_now,
        # A failover takes seconds: a retry at least every 2 s finds the new primary soon
        # after its promotion (one connection attempt per worker every 2 s is nothing to it).
        max_backoff: float = 2.0,
        application_name: str = "optimerge-worker",
    ) -> None:
        self.settings = settings
        self.topics = Topics(settings.topic_prefix)
        # The version activated last judges each merge; the settings' thresholds until one is.
        self.service = MergeService(
            ActiveRuleSet(settings.rules), clock, keyring=settings.audit_keyring()
        )
        self.signatures = SignatureGate.from_settings(settings, clock)
        self.stopping = stopping or threading.Event()
        self.clock = clock
        self.max_backoff = max_backoff
        self.application_name = application_name
        self._conn: psycopg.Connection | None = None

    def _connection(self) -> psycopg.Connection:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = worker_connection(
                self.settings.database_url,
                application_name=self.application_name,
                # Silent that long, a worker has lost its partitions too (the same timeout).
                idle_in_transaction_seconds=self.settings.worker_session_timeout_seconds,
            )
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
                log.warning(
                    "database unavailable (%s); retrying in %.1f s", describe_error(exc), delay
                )
            if self.stopping.wait(delay):
                raise StoppingError
            delay = min(delay * 2, self.max_backoff)

    def process(self, records: Sequence[RawRecord]) -> BatchResult:
        result = BatchResult()
        received_at = self.clock()
        items: list[Item] = [(r, self._decode(r)) for r in records]
        for run in _runs(items):
            first = run[0][1]
            if isinstance(first, Rejected):
                for _, rejected in run:
                    if isinstance(rejected, Rejected):
                        self._refuse(rejected, result)
            elif isinstance(first, ExtractionResult):
                incoming = [
                    IncomingExtraction(
                        e, received_at, raw=r.value, partition=r.partition, offset=r.offset
                    )
                    for r, e in run
                    if isinstance(e, ExtractionResult)
                ]
                self._merge(incoming, result)
            else:
                actions = [(r, e) for r, e in run if isinstance(e, ReviewAction)]
                # Only signed, fresh, first-seen actions go on (pipeline/signatures.py).
                screened = self._with_retry(partial(self.signatures.screen, pairs=actions))
                result.rejected.extend(screened.rejected())
                result.outputs.extend(screened.outputs(self.topics, self.clock))
                self._review(screened.admitted, result)
        return result

    def _decode(self, record: RawRecord) -> Decoded:
        spec = self.topics.spec_named(record.topic)
        topic = spec if spec is not None and spec.is_input else EXTRACTION_RESULTS
        return decode(record, topic=topic, max_bytes=self.settings.max_event_bytes)

    # --- events refused at the edge -------------------------------------------------------

    def _refuse(self, rejected: Rejected, result: BatchResult) -> None:
        """Dead-letter it; then leave a trace on the document (or action) it names."""
        result.rejected.append(rejected)
        result.outputs.extend(dead_letter_outputs(self.topics, [rejected]))
        subject, letter = rejected.subject, rejected.dead_letter
        if subject.document_id is None or subject.patient_id is None:
            return  # names no usable document: the dead letter is the only trace
        if self.topics.spec_named(rejected.record.topic) is REVIEW_ACTIONS:
            if subject.action_id is not None:
                self._refuse_action(rejected, result)
            return
        refusal = RefusedExtraction(
            document_id=subject.document_id,
            patient_id=subject.patient_id,
            reason=letter.reason,
            payload_sha256=letter.payload_sha256 or "",
            payload_bytes=letter.payload_bytes or 0,
            received_at=self.clock(),
            extraction_version=subject.extraction_version or 1,
        )
        self._fail(refusal, f"refused at the input: {letter.reason}", result, dead_letter=False)

    def _refuse_action(self, rejected: Rejected, result: BatchResult) -> None:
        subject = rejected.subject
        assert subject.action_id
        assert subject.document_id
        assert subject.patient_id
        work = partial(
            self.service.refuse_action,
            action_id=subject.action_id,
            document_id=subject.document_id,
            patient_id=subject.patient_id,
            action=subject.action or "unknown",
            reviewer=subject.reviewer or "unknown",
            reason=REFUSED_AT_INPUT,
        )
        try:
            version = self._with_retry(work)
        except StoppingError:
            raise
        except Exception as exc:
            log.error(
                "could not record the refusal of action %s: %s",
                subject.action_id,
                describe_error(exc),
            )
            version = 0
        result.outputs.append(
            refused_action_status(
                self.topics,
                action_id=subject.action_id,
                document_id=subject.document_id,
                patient_id=subject.patient_id,
                version=version,
                reason=REFUSED_AT_INPUT,
                now=self.clock(),
            )
        )

    # --- merges ----------------------------------------------------------------------------

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
                    # Codes and constraint names only: a database error's text can quote values.
                    self._fail(item, describe_error(exc), result)
        result.merges.extend(reports)
        for report in reports:
            result.outputs.extend(
                self._built(partial(merge_outputs, self.topics, [report]), report.incoming)
            )

    def _fail(
        self, item: FailedEvent, error: str, result: BatchResult, *, dead_letter: bool = True
    ) -> None:
        log.error("document %s could not be merged: %s", item.document_id, error)
        try:
            version = self._with_retry(lambda c: self.service.record_failure(c, item, error))
        except StoppingError:
            raise
        except Exception as exc:
            # Even the failure could not be recorded: the dead letter still carries the event.
            log.error(
                "could not record the failure of document %s: %s",
                item.document_id,
                describe_error(exc),
            )
            version = 0
        failure = FailureReport(item, error, version, dead_letter=dead_letter)
        result.failures.append(failure)
        result.outputs.extend(
            self._built(lambda: failure_outputs(self.topics, failure, self.clock()), item)
        )

    def _built(self, build: Callable[[], list[OutputEvent]], item: object) -> list[OutputEvent]:
        """The outputs of one event; if they cannot be built, its raw bytes go to the DLQ."""
        try:
            return build()
        except Exception as exc:
            log.error("outputs of one event could not be built: %s", describe_error(exc))
            if not isinstance(item, IncomingExtraction) or item.partition is None:
                return []
            record = RawRecord(
                self.topics.extraction_results.name,
                item.partition,
                item.offset or 0,
                item.result.patient_id.encode(),
                item.raw,
                item.received_at,
            )
            reason = f"its outputs could not be built: {describe_error(exc)}"
            return [record_letter(self.topics, record, "stuck", reason, self.clock())]

    # --- review actions ---------------------------------------------------------------------

    def _review(self, run: list[tuple[RawRecord, ReviewAction]], result: BatchResult) -> None:
        actions = [a for _, a in run]
        reports = self._with_retry(partial(self.service.review, actions=actions))
        result.reviews.extend(reports)
        now = self.clock()
        for (record, action), report in zip(run, reports, strict=True):
            result.outputs.extend(review_outputs(self.topics, [report], now))
            if report.decision.outcome == ReviewOutcome.INVALID:
                # Again on a redelivery (same id): the first letter may not have gone out.
                error = report.error or "refused when first received (this is a redelivery)"
                result.outputs.append(
                    record_letter(
                        self.topics,
                        record,
                        "action_error",
                        f"review action could not be applied: {error}",
                        now,
                        document_id=action.document_id,
                    )
                )


def _runs(items: Sequence[Item]) -> Iterator[list[Item]]:
    """Consecutive events of one kind, in arrival order (so merges and reviews interleave right)."""
    run: list[Item] = []
    for pair in items:
        if run and type(pair[1]) is not type(run[0][1]):
            yield run
            run = []
        run.append(pair)
    if run:
        yield run
