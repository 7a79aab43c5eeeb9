"""What the pipeline's use cases are given and what they report back (pure data)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import orjson

from domain.merge_plan import MergeDecision
from domain.review_plan import ReviewDecision
from schemas import ExtractionResult, ReviewStatus
from schemas.exact_json import dumps_exact


def content_hash(result: ExtractionResult) -> str:
    """Hash of what the extraction says (not its envelope), to tell a true duplicate apart."""
    body = result.model_dump(mode="json", exclude={"event_id"})
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


class FailedEvent(Protocol):
    """What a document's failure is recorded from: an extraction that could not be merged, or
    an event refused at the edge that still names its document (docs/contract.md#dead-letters)."""

    @property
    def document_id(self) -> str: ...
    @property
    def patient_id(self) -> str: ...
    @property
    def extraction_version(self) -> int: ...
    @property
    def event_id(self) -> uuid.UUID | None: ...
    @property
    def confidence(self) -> float | None: ...
    @property
    def model_name(self) -> str | None: ...
    @property
    def model_version(self) -> str | None: ...
    @property
    def is_fallback(self) -> bool: ...
    @property
    def uploaded_at(self) -> datetime | None: ...
    @property
    def extracted_at(self) -> datetime | None: ...

    @property
    def received_at(self) -> datetime: ...
    @property
    def attempts(self) -> int: ...

    def content_hash(self) -> str: ...
    def extraction_json(self) -> str: ...


@dataclass(frozen=True, slots=True)
class IncomingExtraction:
    result: ExtractionResult
    received_at: datetime
    attempts: int = 1
    # The event as received: stored as is, and hashed, without serialising the model again.
    raw: bytes | None = None
    # Where it was read from (for its dead letter, should it fail).
    partition: int | None = None
    offset: int | None = None

    def extraction_json(self) -> str:
        if self.raw is not None:
            return self.raw.decode()
        return dumps_exact(self.result.model_dump(mode="python")).decode()

    def content_hash(self) -> str:
        return hashlib.sha256(self.raw).hexdigest() if self.raw else content_hash(self.result)

    @property
    def document_id(self) -> str:
        return self.result.document_id

    @property
    def patient_id(self) -> str:
        return self.result.patient_id

    @property
    def extraction_version(self) -> int:
        return self.result.extraction_version

    @property
    def event_id(self) -> uuid.UUID | None:
        return self.result.event_id

    @property
    def confidence(self) -> float | None:
        return self.result.confidence

    @property
    def model_name(self) -> str | None:
        return self.result.model.name

    @property
    def model_version(self) -> str | None:
        return self.result.model.version

    @property
    def is_fallback(self) -> bool:
        return self.result.model.is_fallback

    @property
    def uploaded_at(self) -> datetime | None:
        return self.result.uploaded_at

    @property
    def extracted_at(self) -> datetime | None:
        return self.result.extracted_at


@dataclass(frozen=True, slots=True)
class RefusedExtraction:
    """An extraction refused at the edge whose document and patient ids are usable: the
    document row keeps a stand-in saying why, never the refused bytes themselves."""

    document_id: str
    patient_id: str
    reason: str
    payload_sha256: str
    payload_bytes: int
    received_at: datetime
    # The version it claims when usable; 1 otherwise (so any later valid version merges it).
    extraction_version: int = 1
    attempts: int = 1
    event_id: uuid.UUID | None = None
    confidence: float | None = None
    model_name: str | None = None
    model_version: str | None = None
    is_fallback: bool = False
    uploaded_at: datetime | None = None
    extracted_at: datetime | None = None

    def content_hash(self) -> str:
        return self.payload_sha256

    def extraction_json(self) -> str:
        return dumps_exact(
            {
                "document_id": self.document_id,
                "patient_id": self.patient_id,
                "refused": self.reason,
                "payload_sha256": self.payload_sha256,
                "payload_bytes": self.payload_bytes,
            }
        ).decode()


@dataclass(frozen=True, slots=True)
class MergeReport:
    decision: MergeDecision
    incoming: IncomingExtraction
    merged_at: datetime | None
    processing_ms: float
    review_status: ReviewStatus | None
    resource_count: int
    # The rule-set version that judged it (None when nothing was written).
    rule_set_version: int | None = None


@dataclass(frozen=True, slots=True)
class ReviewReport:
    decision: ReviewDecision
    # True when this action_id had been applied before (a redelivery): nothing was written.
    replayed: bool = False
    # Why the database refused the action (outcome `invalid`): for the dead letter only.
    error: str | None = None
    # The rule-set version that had judged the document acted on (its verdict counts there).
    rule_set_version: int | None = None
    # When it was decided, as remembered with it: a redelivery's outputs carry the first time.
    decided_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FailureReport:
    """A document that could not be merged: recorded (flagged merge_error) at `version`."""

    incoming: FailedEvent
    error: str
    # 0 when not even the failure could be recorded (the dead letter still carries the event).
    version: int
    # False when the event was dead-lettered already (refused at the edge).
    dead_letter: bool = True
