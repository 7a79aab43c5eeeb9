"""Small builders shared by the storage tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.patients import PatientRecord
from schemas import ExtractionResult, FlagReason, FlagRule
from storage.merge import IncomingExtraction

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
