"""The events a batch emits: document status, flagged items and dead letters (pure functions).

Ids are deterministic (document, version, kind), so a redelivered batch emits the same events and
a consumer drops the duplicates exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, TypeVar

from domain.failure_plan import merge_error_reason
from domain.merge_plan import MergeOutcome
from domain.reports import FailureReport, MergeReport, ReviewReport
from domain.review_plan import ReviewOutcome
from pipeline.decode import RawRecord, Rejected
from pipeline.letters import dead_letter
from schemas import (
    DeadLetter,
    DocumentStatusEvent,
    FlaggedItem,
    ProcessingStatus,
    ReviewStatus,
    deterministic_event_id,
)
from schemas.events import DeadLetterKind
from streams.topics import BoundTopic, Topics


@dataclass(frozen=True, slots=True)
class OutputEvent:
    topic: str
    key: str | None
    value: bytes


E = TypeVar("E", DocumentStatusEvent, FlaggedItem, DeadLetter)


def _out(topic: BoundTopic[E], event: E) -> OutputEvent:
    return OutputEvent(topic.name, topic.key(event), topic.encode(event))


def merge_outputs(topics: Topics, reports: Sequence[MergeReport]) -> list[OutputEvent]:
    outputs: list[OutputEvent] = []
    for report in reports:
        first = _as_first_sent(report)
        if first is not None:
            outputs.extend(_merge_events(topics, first))
        outputs.extend(_merge_events(topics, report))
    return outputs


def _as_first_sent(report: MergeReport) -> MergeReport | None:
    """For a duplicate of the very event that made the stored state: the report its merge
    had, from what was stored with it, so that its events are built again byte for byte (the
    first ones may never have gone out: a commit in doubt, a crash before publishing)."""
    d, facts = report.decision, report.decision.announce
    if facts is None:
        return None
    outcome = MergeOutcome.MERGED if d.version == 1 else MergeOutcome.REMERGED
    received_at = facts.received_at or report.incoming.received_at
    return replace(
        report,
        decision=replace(d, outcome=outcome, reason="", announce=None),
        incoming=replace(report.incoming, received_at=received_at),
        merged_at=facts.merged_at,
        processing_ms=facts.processing_ms if facts.processing_ms is not None else 0.0,
    )


def _merge_events(topics: Topics, report: MergeReport) -> list[OutputEvent]:
    outputs: list[OutputEvent] = []
    d = report.decision
    result = report.incoming.result
    reason = None if d.writes else d.reason
    # Built from values we made ourselves: skip validation on this hot path.
    status = DocumentStatusEvent.model_construct(
        event_id=deterministic_event_id(d.document_id, d.version, "status", d.outcome.value),
        document_id=d.document_id,
        patient_id=d.patient_id,
        status=ProcessingStatus.COMPLETE,
        review_status=d.review_status,
        version=d.version,
        extraction_version=result.extraction_version,
        at=report.merged_at or report.incoming.received_at,
        received_at=report.incoming.received_at,
        merged_at=report.merged_at,
        processing_ms=report.processing_ms,
        attempts=report.incoming.attempts,
        reason=reason,
        outcome=d.outcome.value,
    )
    outputs.append(_out(topics.document_status, status))
    if d.outcome in (MergeOutcome.MERGED, MergeOutcome.REMERGED) and (
        d.review_status == ReviewStatus.FLAGGED
    ):
        flagged = FlaggedItem(
            event_id=deterministic_event_id(d.document_id, d.version, "flagged"),
            kind="flagged",
            document_id=d.document_id,
            patient_id=d.patient_id,
            review_status=ReviewStatus.FLAGGED,
            version=d.version,
            flag_reasons=list(d.flag_reasons),
            confidence=result.confidence,
            model_name=result.model.name,
            uploaded_at=result.uploaded_at,
            at=report.merged_at or report.incoming.received_at,
        )
        outputs.append(_out(topics.flagged_items, flagged))
    elif d.resolves_flag and d.review_status is not None:
        # Off the reviewers' queue without a review: a newer extraction passed every rule.
        resolved = FlaggedItem(
            event_id=deterministic_event_id(d.document_id, d.version, "resolved"),
            kind="resolved",
            document_id=d.document_id,
            patient_id=d.patient_id,
            review_status=d.review_status,
            version=d.version,
            confidence=result.confidence,
            model_name=result.model.name,
            uploaded_at=result.uploaded_at,
            at=report.merged_at or report.incoming.received_at,
        )
        outputs.append(_out(topics.flagged_items, resolved))
    return outputs


def review_outputs(
    topics: Topics, reports: Sequence[ReviewReport], now: datetime
) -> list[OutputEvent]:
    outputs: list[OutputEvent] = []
    for report in reports:
        d = report.decision
        action = d.action
        applied = d.outcome == ReviewOutcome.APPLIED
        # The time it was decided, also on a redelivery: the same id, the same event.
        at = report.decided_at or now
        status = DocumentStatusEvent(
            event_id=deterministic_event_id(action.action_id, "status"),
            document_id=action.document_id,
            patient_id=action.patient_id,
            status=ProcessingStatus.COMPLETE if applied else ProcessingStatus.FAILED,
            review_status=d.review_status,
            version=d.version,
            at=at,
            action_id=action.action_id,
            action=action.action,
            conflict=not applied,
            reason=d.reason or None,
            outcome=d.outcome.value,
        )
        outputs.append(_out(topics.document_status, status))
        if applied and d.review_status is not None:
            resolved = FlaggedItem(
                event_id=deterministic_event_id(action.document_id, d.version, "resolved"),
                kind="resolved",
                document_id=action.document_id,
                patient_id=action.patient_id,
                review_status=d.review_status,
                version=d.version,
                at=at,
                resolution=action.action.value,
                reviewer=action.reviewer,
            )
            outputs.append(_out(topics.flagged_items, resolved))
    return outputs


def dead_letter_outputs(topics: Topics, rejected: Sequence[Rejected]) -> list[OutputEvent]:
    outputs = []
    for r in rejected:
        letter = r.dead_letter.model_copy(
            update={
                "event_id": deterministic_event_id(
                    r.record.topic, r.record.partition, r.record.offset, "dlq"
                )
            }
        )
        outputs.append(_out(topics.dlq, letter))
    return outputs


def _raw_of(item: object) -> tuple[bytes, int | None, int | None]:
    raw = getattr(item, "raw", None)
    return raw or b"", getattr(item, "partition", None), getattr(item, "offset", None)


def failure_outputs(topics: Topics, failure: FailureReport, now: datetime) -> list[OutputEvent]:
    """A document that could not be merged: dead letter (from the bytes as received), FAILED
    status, and a flagged item."""
    item, error, version = failure.incoming, failure.error, failure.version
    doc, patient = item.document_id, item.patient_id
    outputs: list[OutputEvent] = []
    if failure.dead_letter:
        raw, partition, offset = _raw_of(item)
        letter = dead_letter(
            event_id=deterministic_event_id(doc, version, "dlq"),
            source_topic=topics.extraction_results.name,
            partition=partition,
            offset=offset,
            key=patient,
            value=raw,
            kind="merge_error",
            reason=f"merge failed: {error}",
            document_id=doc,
            at=now,
        )
        outputs.append(_out(topics.dlq, letter))
    status = DocumentStatusEvent(
        event_id=deterministic_event_id(doc, version, "status", "failed"),
        document_id=doc,
        patient_id=patient,
        status=ProcessingStatus.FAILED,
        review_status=ReviewStatus.FLAGGED,
        version=version,
        extraction_version=item.extraction_version,
        at=now,
        received_at=item.received_at,
        failed_at=now,
        attempts=item.attempts,
        error=error,
    )
    flagged = FlaggedItem(
        event_id=deterministic_event_id(doc, version, "flagged"),
        kind="flagged",
        document_id=doc,
        patient_id=patient,
        review_status=ReviewStatus.FLAGGED,
        version=version,
        flag_reasons=[merge_error_reason(error)],
        confidence=item.confidence,
        model_name=item.model_name,
        uploaded_at=item.uploaded_at,
        at=now,
    )
    outputs.append(_out(topics.document_status, status))
    outputs.append(_out(topics.flagged_items, flagged))
    return outputs


def record_letter(
    topics: Topics, record: RawRecord, kind: DeadLetterKind, reason: str, now: datetime, **kw: Any
) -> OutputEvent:
    """A dead letter for one input record as received (a refused action, a stuck event)."""
    letter = dead_letter(
        event_id=deterministic_event_id(record.topic, record.partition, record.offset, kind),
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        kind=kind,
        reason=reason,
        at=now,
        **kw,
    )
    return _out(topics.dlq, letter)


def refused_action_status(
    topics: Topics,
    *,
    action_id: object,
    document_id: str,
    patient_id: str,
    version: int,
    reason: str,
    now: datetime,
) -> OutputEvent:
    """`invalid` on document.status for an action refused before it could be read whole."""
    status = DocumentStatusEvent(
        event_id=deterministic_event_id(action_id, "status"),
        document_id=document_id,
        patient_id=patient_id,
        status=ProcessingStatus.FAILED,
        version=version,
        at=now,
        action_id=action_id,
        conflict=True,
        reason=reason,
        outcome=ReviewOutcome.INVALID.value,
    )
    return _out(topics.document_status, status)
