"""A document's row as the pipeline writes it, and as the app and the CLI read it back."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel, ConfigDict

from domain.failure_plan import FailureDecision
from domain.merge_plan import MergeDecision, StoredDocument
from domain.reports import FailedEvent, IncomingExtraction
from schemas import ExtractionResult, FlagReason, ProcessingStatus, ReviewStatus
from schemas.exact_json import dumps_exact


@dataclass(frozen=True, slots=True)
class DocumentWrite:
    """Every column a merge (or a first failure, or the legacy import) sets on a document."""

    document_id: str
    patient_id: str
    extraction_version: int
    version: int
    review_status: ReviewStatus
    auto_approved: bool
    flag_reasons: tuple[FlagReason, ...]
    confidence: float | None
    model_name: str | None
    model_version: str | None
    is_fallback: bool
    resource_count: int
    processing_status: ProcessingStatus
    attempts: int
    error: str | None
    is_merged: bool
    event_id: uuid.UUID
    content_hash: str
    # The extraction as received (JSON text): what a reviewer verifies against.
    extraction: str
    uploaded_at: datetime | None
    extracted_at: datetime | None
    received_at: datetime | None
    merged_at: datetime | None
    failed_at: datetime | None
    processing_ms: float | None
    # The extraction's patient and document sections (JSON text), what the queue searches and
    # shows without reading the whole extraction; None when the event could not be read.
    extraction_head: str | None = None
    # Set only by the legacy import: a merge or a failure clears them.
    reviewer: str | None = None
    reviewed_at: datetime | None = None
    # How its resource ids are derived (domain/resources.py); kept for the document's life.
    id_scheme: int = 2
    # The rule-set version that judged it (docs/contract.md#rule-sets); None: not judged.
    rule_set_version: int | None = None

    def flag_reasons_json(self) -> str:
        return reasons_json(self.flag_reasons)


def reasons_json(reasons: Sequence[FlagReason]) -> str:
    return orjson.dumps([r.model_dump(mode="json") for r in reasons]).decode()


def extraction_head(result: ExtractionResult) -> str:
    """The patient and document sections as sent (extra fields and decimals kept), and how many
    resources it brought: what the replay of the flag rules reads once a review changed them."""
    head = {
        "patient": result.patient.model_dump(by_alias=True, exclude_unset=True),
        "document": result.document.model_dump(by_alias=True, exclude_unset=True),
        "resource_count": len(result.resources),
    }
    return dumps_exact(head).decode()


def _from_extraction(item: IncomingExtraction, **state: Any) -> DocumentWrite:
    result = item.result
    return DocumentWrite(
        document_id=result.document_id,
        patient_id=result.patient_id,
        extraction_version=result.extraction_version,
        confidence=result.confidence,
        model_name=result.model.name,
        model_version=result.model.version,
        is_fallback=result.model.is_fallback,
        event_id=result.event_id,
        content_hash=item.content_hash(),
        extraction=item.extraction_json(),
        extraction_head=extraction_head(result),
        uploaded_at=result.uploaded_at,
        extracted_at=result.extracted_at,
        received_at=item.received_at,
        **state,
    )


def merged_document(
    item: IncomingExtraction,
    decision: MergeDecision,
    previous: StoredDocument | None,
    now: datetime,
    elapsed_ms: float,
    rule_set_version: int | None = None,
) -> DocumentWrite:
    status = decision.review_status or ReviewStatus.PENDING
    # A merge after failed attempts counts them all: the reviewer sees how hard it was.
    earlier = (
        previous.attempts
        if previous and previous.processing_status == ProcessingStatus.FAILED
        else 0
    )
    return _from_extraction(
        item,
        version=decision.version,
        review_status=status,
        auto_approved=status == ReviewStatus.AUTO_APPROVED,
        flag_reasons=decision.flag_reasons,
        resource_count=len(item.result.resources),
        processing_status=ProcessingStatus.COMPLETE,
        attempts=item.attempts + earlier,
        error=None,
        is_merged=True,
        merged_at=now,
        failed_at=None,
        processing_ms=elapsed_ms,
        id_scheme=decision.id_scheme,
        rule_set_version=rule_set_version,
    )


def failed_document(
    item: FailedEvent, decision: FailureDecision, error: str, now: datetime
) -> DocumentWrite:
    """The row of a document whose first merge failed: flagged, FAILED, nothing merged."""
    return DocumentWrite(
        document_id=item.document_id,
        patient_id=item.patient_id,
        extraction_version=item.extraction_version,
        confidence=item.confidence,
        model_name=item.model_name,
        model_version=item.model_version,
        is_fallback=item.is_fallback,
        event_id=item.event_id or uuid.uuid4(),
        content_hash=item.content_hash(),
        extraction=item.extraction_json(),
        extraction_head=_head_of(item),
        uploaded_at=item.uploaded_at,
        extracted_at=item.extracted_at,
        received_at=item.received_at,
        version=decision.version,
        review_status=ReviewStatus.FLAGGED,
        auto_approved=False,
        flag_reasons=decision.flag_reasons,
        resource_count=0,
        processing_status=ProcessingStatus.FAILED,
        attempts=decision.attempts,
        error=error,
        is_merged=False,
        merged_at=None,
        failed_at=now,
        processing_ms=None,
    )


def _head_of(item: FailedEvent) -> str | None:
    return extraction_head(item.result) if isinstance(item, IncomingExtraction) else None


class DocumentView(BaseModel):
    """A document's stored state, as `optimerge document show` prints it and the app shows it
    (docs/contract.md#commands)."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    patient_id: str
    extraction_version: int
    version: int
    review_status: ReviewStatus
    auto_approved: bool
    flag_reasons: list[FlagReason]
    confidence: float | None
    model_name: str | None
    model_version: str | None
    is_fallback: bool
    resource_count: int
    processing_status: ProcessingStatus
    attempts: int
    error: str | None
    is_merged: bool
    uploaded_at: datetime | None
    extracted_at: datetime | None
    received_at: datetime | None
    merged_at: datetime | None
    failed_at: datetime | None
    processing_ms: float | None
    reviewer: str | None
    reviewed_at: datetime | None
    review_note: str | None
    created_at: datetime
    updated_at: datetime
    # The rule-set version that judged the current extraction (None: not judged by the rules).
    rule_set_version: int | None = None
