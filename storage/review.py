"""Applying review actions (mark correct, correct data, rollback): one transaction each, audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from domain.audit import ActorKind, AuditEntry
from domain.review_plan import ReviewDecision, ReviewOutcome, plan_review
from schemas import ReviewAction, ReviewActionKind, ReviewStatus
from schemas.events import Clock, utc_now
from storage._writes import ChangeSet, apply_resource_changes
from storage.audit import append_audit
from storage.documents import load_documents, lock_patients


@dataclass(frozen=True, slots=True)
class ReviewReport:
    decision: ReviewDecision
    # True when this action_id had been applied before (a redelivery): nothing was written.
    replayed: bool = False


def apply_review_actions(
    conn: psycopg.Connection, actions: Sequence[ReviewAction], *, clock: Clock = utc_now
) -> list[ReviewReport]:
    """Apply actions in order, in one transaction; a redelivered action_id is not applied twice."""
    reports: list[ReviewReport] = []
    if not actions:
        return reports
    with conn.transaction(), conn.cursor() as cur:
        locked = lock_patients(cur, [a.patient_id for a in actions])
        for action in actions:
            reports.append(_apply_one(cur, locked, action, clock()))
    return reports


def _apply_one(
    cur: psycopg.Cursor, locked: Any, action: ReviewAction, now: datetime
) -> ReviewReport:
    cur.execute(
        "SELECT outcome, reason, version_after FROM review_actions WHERE action_id = %s",
        (action.action_id,),
    )
    seen = cur.fetchone()
    if seen is not None:
        outcome, reason, version_after = seen
        decision = ReviewDecision(
            ReviewOutcome(outcome), action, reason=reason or "", version=version_after
        )
        return ReviewReport(decision, replayed=True)
    stored = load_documents(cur, [action.document_id], for_update=True).get(action.document_id)
    decision = plan_review(action, stored, now)
    if decision.writes:
        _write_decision(cur, locked, decision, now)
    if stored is not None:
        # Conflicts are remembered too, so a redelivered action gets the same answer.
        _remember(cur, decision, now)
    return ReviewReport(decision)


def _remember(cur: psycopg.Cursor, decision: ReviewDecision, now: datetime) -> None:
    action = decision.action
    cur.execute(
        "INSERT INTO review_actions (action_id, document_id, action, reviewer, outcome, "
        "reason, version_after, applied_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            action.action_id,
            action.document_id,
            action.action.value,
            action.reviewer,
            decision.outcome.value,
            decision.reason or None,
            decision.version,
            now,
        ),
    )


def _write_decision(
    cur: psycopg.Cursor,
    locked: Any,
    decision: ReviewDecision,
    now: datetime,
    actor_kind: ActorKind = "reviewer",
) -> None:
    action = decision.action
    changes = decision.changes
    if changes is not None:
        apply_resource_changes(
            cur, [ChangeSet(action.patient_id, action.document_id, changes)], now
        )
    status = decision.review_status or ReviewStatus.REVIEWED
    count_sql = (
        "(SELECT count(*) FROM resources WHERE document_id = %(doc)s)"
        if changes is not None
        else "resource_count"
    )
    cur.execute(
        "UPDATE documents SET version = %(version)s, review_status = %(status)s, "
        "auto_approved = false, is_merged = %(merged)s, reviewer = %(reviewer)s, "
        f"reviewed_at = %(now)s, review_note = %(note)s, resource_count = {count_sql}, "
        "updated_at = now() WHERE document_id = %(doc)s",
        {
            "version": decision.version,
            "status": status.value,
            "merged": decision.is_merged,
            "reviewer": action.reviewer,
            "now": now,
            "note": action.note or None,
            "doc": action.document_id,
        },
    )
    details: dict[str, Any] = {
        "action_id": str(action.action_id),
        "document_version": decision.version,
        "expected_version": action.expected_version,
        "review_status": status.value,
        "note": action.note,
    }
    if changes is not None:
        details["resources"] = changes.summary()
    if action.action == ReviewActionKind.ROLLBACK and changes is not None:
        details["resources_removed"] = len(changes.deleted)
    if action.action == ReviewActionKind.MARK_CORRECT:
        details["false_positive"] = decision.false_positive
    entry = AuditEntry(
        patient_id=action.patient_id,
        document_id=action.document_id,
        action=action.action.value,
        actor_kind=actor_kind,
        actor=action.reviewer,
        details=orjson.loads(orjson.dumps(details)),
        occurred_at=now,
    )
    append_audit(cur, locked, [entry])


class DocumentNotFoundError(LookupError):
    pass


class RollbackRefusedError(RuntimeError):
    pass


def rollback_document(
    conn: psycopg.Connection,
    document_id: str,
    *,
    actor: str,
    note: str = "",
    clock: Clock = utc_now,
) -> int:
    """Remove one document's resources and nothing else; returns how many were removed.

    Idempotent: a document already rolled back returns 0 and writes nothing."""
    with conn.transaction(), conn.cursor() as cur:
        row = cur.execute(
            "SELECT patient_id FROM documents WHERE document_id = %s", (document_id,)
        ).fetchone()
        if row is None:
            raise DocumentNotFoundError(f"document {document_id} does not exist")
        locked = lock_patients(cur, [row[0]])
        stored = load_documents(cur, [document_id], for_update=True)[document_id]
        if stored.review_status == ReviewStatus.REJECTED:
            return 0
        action = ReviewAction(
            document_id=document_id,
            patient_id=stored.patient_id,
            action=ReviewActionKind.ROLLBACK,
            reviewer=actor,
            expected_version=stored.version,
            note=note,
        )
        now = clock()
        decision = plan_review(action, stored, now)
        if not decision.writes or decision.changes is None:
            raise RollbackRefusedError(decision.reason)
        _write_decision(cur, locked, decision, now, actor_kind="operator")
        _remember(cur, decision, now)
        return len(decision.changes.deleted)
