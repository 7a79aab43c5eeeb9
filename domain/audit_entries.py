"""What each change says in the audit trail (pure): the entry a merge, a failure or a review
appends in the same transaction (docs/contract.md#audit-trail)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson

from domain.audit import SYSTEM_ACTOR, AuditAction, AuditEntry
from domain.failure_plan import FailureDecision
from domain.merge_plan import MergeDecision, MergeOutcome
from domain.reports import FailedEvent
from domain.review_plan import ReviewDecision
from domain.signing import signer_of
from schemas import ActorKind, ExtractionResult, ReviewActionKind, ReviewStatus


def merge_entry(decision: MergeDecision, result: ExtractionResult, now: datetime) -> AuditEntry:
    changes = decision.changes.summary() if decision.changes else {}
    first = decision.outcome == MergeOutcome.MERGED
    return AuditEntry(
        patient_id=decision.patient_id,
        document_id=decision.document_id,
        action=AuditAction.MERGE if first else AuditAction.REMERGE,
        actor_kind=ActorKind.SYSTEM,
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


def failure_entry(
    item: FailedEvent, decision: FailureDecision, error: str, now: datetime
) -> AuditEntry:
    return AuditEntry(
        patient_id=item.patient_id,
        document_id=item.document_id,
        action=AuditAction.MERGE_FAILED,
        actor_kind=ActorKind.SYSTEM,
        actor=SYSTEM_ACTOR,
        details={
            "extraction_version": item.extraction_version,
            "document_version": decision.version,
            "error": error,
            "event_id": str(item.event_id) if item.event_id else None,
        },
        occurred_at=now,
    )


def review_entry(decision: ReviewDecision, now: datetime) -> AuditEntry:
    """The entry of an applied review action, naming who took it (a reviewer or an operator)."""
    action = decision.action
    changes = decision.changes
    status = decision.review_status or ReviewStatus.REVIEWED
    details: dict[str, Any] = {
        "action_id": str(action.action_id),
        "document_version": decision.version,
        "expected_version": action.expected_version,
        "review_status": status.value,
        "note": action.note,
        # The key that signed it, verified before the action was applied.
        "signed_by": signer_of(action),
    }
    if changes is not None:
        details["resources"] = changes.summary()
    if action.action == ReviewActionKind.ROLLBACK and changes is not None:
        details["resources_removed"] = len(changes.deleted)
    if action.action == ReviewActionKind.MARK_CORRECT:
        details["false_positive"] = decision.false_positive
    return AuditEntry(
        patient_id=action.patient_id,
        document_id=action.document_id,
        action=AuditAction(action.action.value),
        actor_kind=ActorKind(action.actor_kind),
        actor=action.reviewer,
        # Canonical JSON types (what the database gives back), so the chained hash verifies.
        details=orjson.loads(orjson.dumps(details)),
        occurred_at=now,
    )
