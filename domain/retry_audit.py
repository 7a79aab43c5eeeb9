"""The audit entry of a dead-letter retry (pure; docs/contract.md#audit-trail): who sent which
letter back, appended to the chain of the letter's patient in the retry's own transaction."""

from __future__ import annotations

import uuid
from datetime import datetime

import orjson

from domain.audit import AuditAction, AuditEntry
from schemas import ActorKind, DeadLetter


def retry_entry(
    letter: DeadLetter,
    ref: str,
    retry_id: uuid.UUID,
    requested_by: str,
    fixed_payload: bool,
    now: datetime,
) -> AuditEntry | None:
    """None for a letter without a key: there is no patient whose chain it belongs to."""
    if not letter.key:
        return None
    details = {
        "retry_id": str(retry_id),
        "letter": ref,
        "letter_event_id": str(letter.event_id),
        "error_kind": letter.error_kind,
        "source_topic": letter.source_topic,
        "reason": letter.reason[:500],
        "fixed_payload": fixed_payload,
    }
    return AuditEntry(
        patient_id=letter.key,
        document_id=letter.document_id,
        action=AuditAction.DLQ_RETRY,
        actor_kind=ActorKind.OPERATOR,
        actor=requested_by,
        # Canonical JSON types (what the database gives back), so the chained hash verifies.
        details=orjson.loads(orjson.dumps(details)),
        occurred_at=now,
    )
