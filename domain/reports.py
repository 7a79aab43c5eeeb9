"""What the pipeline's use cases are given and what they report back (pure data)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

import orjson

from domain.merge_plan import MergeDecision
from domain.review_plan import ReviewDecision
from schemas import ExtractionResult, ReviewStatus


def content_hash(result: ExtractionResult) -> str:
    """Hash of what the extraction says (not its envelope), to tell a true duplicate apart."""
    body = result.model_dump(mode="json", exclude={"event_id"})
    return hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()


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


@dataclass(frozen=True, slots=True)
class ReviewReport:
    decision: ReviewDecision
    # True when this action_id had been applied before (a redelivery): nothing was written.
    replayed: bool = False


@dataclass(frozen=True, slots=True)
class FailureReport:
    """A document that could not be merged: recorded (flagged merge_error) at `version`."""

    incoming: IncomingExtraction
    error: str
    # 0 when not even the failure could be recorded (the dead letter still carries the event).
    version: int
