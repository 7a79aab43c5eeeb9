"""Small builders shared by the storage tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from domain.patients import PatientRecord
from domain.reports import IncomingExtraction, MergeReport, ReviewReport
from domain.review_plan import ReviewOutcome
from pipeline.service import Judge, MergeService
from schemas import ActorKind, ExtractionResult, FlagReason, FlagRule, ReviewAction, ReviewStatus
from storage.read import document_state
from tests.audit_helpers import shared_keyring

RECEIVED = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def extraction(
    document_id: str,
    patient_id: str = "p-1",
    *,
    version: int = 1,
    n: int = 3,
    confidence: float = 0.93,
    tag: str = "",
) -> ExtractionResult:
    resources: list[dict[str, Any]] = [
        {
            "resourceType": "Observation",
            "status": "final",
            "code": {"text": f"finding {i}{tag}"},
            "subject": {"reference": f"Patient/{patient_id}"},
        }
        if i % 2
        else {
            "resourceType": "Condition",
            "code": {"text": f"finding {i}{tag}"},
            "subject": {"reference": f"Patient/{patient_id}"},
        }
        for i in range(n)
    ]
    return ExtractionResult.model_validate(
        {
            "document_id": document_id,
            "patient_id": patient_id,
            "extraction_version": version,
            "uploaded_at": "2026-11-22T10:00:00Z",
            "extracted_at": "2026-11-22T10:00:05Z",
            "model": {"name": "extractor-large", "version": "2026.10"},
            "confidence": confidence,
            "resources": resources,
            "document": {"title": f"Report {document_id}", "type": "lab-report", "pages": 1},
        }
    )


def incoming(result: ExtractionResult) -> IncomingExtraction:
    return IncomingExtraction(result, RECEIVED)


def no_flags(result: ExtractionResult, record: PatientRecord | None) -> list[FlagReason]:
    return []


def low_confidence_flags(
    result: ExtractionResult, record: PatientRecord | None
) -> list[FlagReason]:
    if result.confidence < 0.8:
        return [FlagReason(rule=FlagRule.LOW_CONFIDENCE, text="low")]
    return []


def merge(
    conn: psycopg.Connection, items: list[IncomingExtraction], judge: Judge = no_flags
) -> list[MergeReport]:
    return MergeService(judge, keyring=shared_keyring()).merge(conn, items)


def review(conn: psycopg.Connection, actions: list[ReviewAction]) -> list[ReviewReport]:
    return MergeService(no_flags, keyring=shared_keyring()).review(conn, actions)


class DocumentNotFoundError(LookupError):
    pass


def rollback(conn: psycopg.Connection, document_id: str, *, actor: str) -> int:
    """An operator's rollback through the merge service, as `optimerge document rollback` sends
    it: how many resources it removed (0 when the document was removed already)."""
    while True:
        with conn.transaction():  # a read of its own: the review must not nest inside it
            state = document_state(conn, document_id)
        if state is None:
            raise DocumentNotFoundError(document_id)
        if state.review_status == ReviewStatus.REJECTED:
            return 0
        action = ReviewAction(
            document_id=document_id,
            patient_id=state.patient_id,
            action="rollback",
            reviewer=actor,
            actor_kind=ActorKind.OPERATOR,
            expected_version=state.version,
        )
        [report] = review(conn, [action])
        decision = report.decision
        if decision.outcome == ReviewOutcome.APPLIED:
            return len(decision.changes.deleted) if decision.changes else 0
        # Changed by another writer since we looked: look again, as an operator would.
