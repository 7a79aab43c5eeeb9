"""Merging batches of extractions in one transaction each: lock, load, plan (pure), write, audit."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import orjson
import psycopg

from domain.audit import SYSTEM_ACTOR, AuditEntry
from domain.merge_plan import MergeDecision, MergeOutcome, StoredDocument, plan_merge
from domain.patients import PatientRecord
from schemas import ExtractionResult, FlagReason, FlagRule, ProcessingStatus, ReviewStatus
from schemas.events import Clock, utc_now
from storage._writes import (
    ChangeSet,
    apply_resource_changes,
    insert_new_documents,
    upsert_documents,
)
from storage.audit import append_audit
from storage.documents import LockedPatient, load_documents, lock_patients

Evaluate = Callable[[ExtractionResult, PatientRecord | None], Sequence[FlagReason]]


@dataclass(frozen=True, slots=True)
class IncomingExtraction:
    result: ExtractionResult
    received_at: datetime
    attempts: int = 1
    # The event as received: stored as is, and hashed, without serialising the model again.
    raw: bytes | None = None

    def extraction_json(self) -> str:
        if self.raw is not None:
            return self.raw.decode()
        return orjson.dumps(self.result.model_dump(mode="json")).decode()

    def content_hash(self) -> str:
        return hashlib.sha256(self.raw).hexdigest() if self.raw else content_hash(self.result)


@dataclass(frozen=True, slots=True)
class MergeReport:
    decision: MergeDecision
    incoming: IncomingExtraction
    merged_at: datetime | None
    processing_ms: float
    review_status: ReviewStatus | None
    resource_count: int


def content_hash(result: ExtractionResult) -> str:
    """Hash of what the extraction says (not its envelope), to tell a true duplicate apart."""
    body = result.model_dump(mode="json", exclude={"event_id"})
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _segments(items: Sequence[IncomingExtraction]) -> Iterator[list[IncomingExtraction]]:
    """Cut the batch where a document repeats, so each segment sees the previous one's writes."""
    segment: list[IncomingExtraction] = []
    seen: set[str] = set()
    for item in items:
        if item.result.document_id in seen:
            yield segment
            segment, seen = [], set()
        segment.append(item)
        seen.add(item.result.document_id)
    if segment:
        yield segment


def merge_batch(
    conn: psycopg.Connection,
    items: Sequence[IncomingExtraction],
    *,
    evaluate: Evaluate,
    clock: Clock = utc_now,
) -> list[MergeReport]:
    """Merge the batch in one transaction; any database error rolls all of it back and raises."""
    reports: list[MergeReport] = []
    with conn.transaction(), conn.cursor() as cur:
        for segment in _segments(items):
            reports.extend(_merge_segment(cur, segment, evaluate, clock))
    return reports


def _merge_segment(
    cur: psycopg.Cursor,
    items: Sequence[IncomingExtraction],
    evaluate: Evaluate,
    clock: Clock,
) -> list[MergeReport]:
    started = time.perf_counter()
    locked = lock_patients(cur, [i.result.patient_id for i in items])
    stored = load_documents(cur, [i.result.document_id for i in items], for_update=True)
    now = clock()
    decisions: list[tuple[IncomingExtraction, MergeDecision]] = []
    for item in items:
        result = item.result
        previous = stored.get(result.document_id)
        reasons = evaluate(result, locked[result.patient_id].record)
        decisions.append((item, plan_merge(result, previous, reasons, now, item.raw)))
    writes = [(i, d) for i, d in decisions if d.writes]
    elapsed_ms = (time.perf_counter() - started) * 1000
    # Document rows first: resources reference them.
    rows = [_document_row(i, d, stored, now, elapsed_ms) for i, d in writes]
    insert_new_documents(cur, [r for r in rows if r["document_id"] not in stored])
    upsert_documents(cur, [r for r in rows if r["document_id"] in stored])
    apply_resource_changes(
        cur,
        [ChangeSet(d.patient_id, d.document_id, d.changes) for _, d in writes if d.changes],
        now,
    )
    append_audit(cur, locked, [_merge_audit(d, i.result, now) for i, d in writes])
    return [
        MergeReport(
            decision=d,
            incoming=i,
            merged_at=now if d.writes else None,
            processing_ms=elapsed_ms,
            review_status=d.review_status,
            resource_count=len(i.result.resources) if d.writes else 0,
        )
        for i, d in decisions
    ]


def _extraction_row(item: IncomingExtraction, **state: Any) -> dict[str, Any]:
    """A documents row: what the extraction says, plus the state the caller decided."""
    result = item.result
    return {
        "document_id": result.document_id,
        "patient_id": result.patient_id,
        "extraction_version": result.extraction_version,
        "confidence": result.confidence,
        "model_name": result.model.name,
        "model_version": result.model.version,
        "is_fallback": result.model.is_fallback,
        "event_id": result.event_id,
        "content_hash": item.content_hash(),
        "extraction": item.extraction_json(),
        "uploaded_at": result.uploaded_at,
        "extracted_at": result.extracted_at,
        "received_at": item.received_at,
        **state,
    }


def _reasons_json(reasons: Sequence[FlagReason]) -> str:
    return orjson.dumps([r.model_dump(mode="json") for r in reasons]).decode()


def _document_row(
    item: IncomingExtraction,
    decision: MergeDecision,
    stored: dict[str, StoredDocument],
    now: datetime,
    elapsed_ms: float,
) -> dict[str, Any]:
    previous = stored.get(item.result.document_id)
    status = decision.review_status or ReviewStatus.PENDING
    return _extraction_row(
        item,
        version=decision.version,
        review_status=status.value,
        auto_approved=status == ReviewStatus.AUTO_APPROVED,
        flag_reasons=_reasons_json(decision.flag_reasons),
        resource_count=len(item.result.resources),
        processing_status=ProcessingStatus.COMPLETE.value,
        attempts=item.attempts + (previous.attempts if previous and _was_failed(previous) else 0),
        error=None,
        is_merged=True,
        merged_at=now,
        failed_at=None,
        processing_ms=elapsed_ms,
    )


def _was_failed(doc: StoredDocument) -> bool:
    return doc.processing_status == ProcessingStatus.FAILED


def _merge_audit(decision: MergeDecision, result: ExtractionResult, now: datetime) -> AuditEntry:
    changes = decision.changes.summary() if decision.changes else {}
    return AuditEntry(
        patient_id=decision.patient_id,
        document_id=decision.document_id,
        action="merge" if decision.outcome == MergeOutcome.MERGED else "remerge",
        actor_kind="system",
        actor=SYSTEM_ACTOR,
        details={
            "extraction_version": result.extraction_version,
            "document_version": decision.version,
            "review_status": decision.review_status.value if decision.review_status else None,
            "flag_reasons": [r.rule.value for r in decision.flag_reasons],
            "resources": changes,
            "resource_count": len(result.resources),
            "model": f"{result.model.name} {result.model.version}".strip(),
            "event_id": str(result.event_id),
        },
        occurred_at=now,
    )


def record_merge_failure(
    conn: psycopg.Connection,
    item: IncomingExtraction,
    error: str,
    *,
    clock: Clock = utc_now,
) -> int:
    """Flag a document that could not be merged, in its own transaction; returns its version.

    A document merged before keeps its resources (they stay its last good state). When the
    extraction itself is what the database refuses, a stand-in is stored instead (the event as
    received goes to the dead-letter topic)."""
    try:
        return _record_merge_failure(conn, item, error, clock)
    except psycopg.errors.DataError as exc:
        stand_in = {
            "document_id": item.result.document_id,
            "patient_id": item.result.patient_id,
            "extraction_version": item.result.extraction_version,
            "unstorable": f"the extraction could not be stored: {exc}".strip(),
        }
        return _record_merge_failure(conn, replace(item, raw=orjson.dumps(stand_in)), error, clock)


def _record_merge_failure(
    conn: psycopg.Connection, item: IncomingExtraction, error: str, clock: Clock
) -> int:
    result = item.result
    now = clock()
    reason = FlagReason(rule=FlagRule.MERGE_ERROR, text=f"Merge failed: {error}")
    with conn.transaction(), conn.cursor() as cur:
        locked = lock_patients(cur, [result.patient_id])
        stored = load_documents(cur, [result.document_id], for_update=True).get(result.document_id)
        if stored is not None and stored.patient_id != result.patient_id:
            return stored.version
        if (
            stored is not None
            and _was_failed(stored)
            and stored.content_hash == item.content_hash()
        ):
            return stored.version  # the same failure redelivered: already recorded and audited
        version = stored.version + 1 if stored else 1
        reasons = [r for r in (stored.flag_reasons if stored else ()) if r.rule != reason.rule]
        reasons_json = _reasons_json([*reasons, reason])
        if stored is None:
            row = _extraction_row(
                item,
                version=version,
                review_status=ReviewStatus.FLAGGED.value,
                auto_approved=False,
                flag_reasons=reasons_json,
                resource_count=0,
                processing_status=ProcessingStatus.FAILED.value,
                attempts=item.attempts,
                error=error,
                is_merged=False,
                merged_at=None,
                failed_at=now,
                processing_ms=None,
            )
            upsert_documents(cur, [row])
        else:
            cur.execute(
                "UPDATE documents SET version = %s, review_status = 'flagged', "
                "auto_approved = false, flag_reasons = %s, processing_status = 'FAILED', "
                "attempts = attempts + %s, error = %s, failed_at = %s, content_hash = %s, "
                "updated_at = now() WHERE document_id = %s",
                (
                    version,
                    reasons_json,
                    item.attempts,
                    error,
                    now,
                    item.content_hash(),
                    result.document_id,
                ),
            )
        _append_failure_audit(cur, locked, result, version, error, now)
    return version


def _append_failure_audit(
    cur: psycopg.Cursor,
    locked: dict[str, LockedPatient],
    result: ExtractionResult,
    version: int,
    error: str,
    now: datetime,
) -> None:
    entry = AuditEntry(
        patient_id=result.patient_id,
        document_id=result.document_id,
        action="merge_failed",
        actor_kind="system",
        actor=SYSTEM_ACTOR,
        details={
            "extraction_version": result.extraction_version,
            "document_version": version,
            "error": error,
            "event_id": str(result.event_id),
        },
        occurred_at=now,
    )
    append_audit(cur, locked, [entry])
