"""A document's read model as storage returns it, for the app's pure tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from domain.documents import DocumentView

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def document_view(**changes: Any) -> DocumentView:
    fields: dict[str, Any] = {
        "document_id": "d1",
        "patient_id": "p-1",
        "extraction_version": 1,
        "version": 1,
        "review_status": "flagged",
        "auto_approved": False,
        "flag_reasons": [],
        "confidence": 0.5,
        "model_name": "extractor-large",
        "model_version": "2026.10",
        "is_fallback": False,
        "resource_count": 1,
        "processing_status": "COMPLETE",
        "attempts": 1,
        "error": None,
        "is_merged": True,
        "uploaded_at": NOW,
        "extracted_at": NOW,
        "received_at": NOW,
        "merged_at": NOW,
        "failed_at": None,
        "processing_ms": 1.0,
        "reviewer": None,
        "reviewed_at": None,
        "review_note": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(changes)
    return DocumentView.model_validate(fields)
