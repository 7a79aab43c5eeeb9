"""Review actions, applied (docs/contract.md#review-states): a run of them is one transaction
with a savepoint per action, so one the database refuses is rolled back alone and answered
`invalid`; a redelivered action_id is answered as it was the first time, never applied twice."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC

import psycopg

from domain.audit_entries import review_entry
from domain.audit_keys import AuditKeyring
from domain.merge_plan import ChangeSet
from domain.reports import ReviewReport
from domain.review_plan import (
    REFUSED_BY_DATABASE,
    ReviewOutcome,
    invalid,
    plan_review,
    replayed,
)
from domain.verdicts import verdict_of
from schemas import ReviewAction
from schemas.events import Clock
from storage import documents, resources, review_actions, verdicts
from storage.audit import append_audit
from storage.db import is_transient, transaction
from storage.documents import LockedPatient
from storage.errors import describe_error

log = logging.getLogger(__name__)


def apply_reviews(
    conn: psycopg.Connection,
    actions: Sequence[ReviewAction],
    clock: Clock,
    keyring: AuditKeyring,
) -> list[ReviewReport]:
    if not actions:
        return []
    with transaction(conn) as cur:
        locked = documents.lock_patients(cur, [a.patient_id for a in actions])
        return [_isolated(conn, cur, locked, action, clock, keyring) for action in actions]


def _isolated(
    conn: psycopg.Connection,
    cur: psycopg.Cursor,
    locked: dict[str, LockedPatient],
    action: ReviewAction,
    clock: Clock,
    keyring: AuditKeyring,
) -> ReviewReport:
    head = locked[action.patient_id]
    chain = (head.audit_seq, head.audit_head)
    try:
        with conn.transaction():  # a savepoint
            return _review_one(cur, locked, action, clock, keyring)
    except Exception as exc:
        if is_transient(exc):
            raise
        # Rolled back to the savepoint: the chain head must be too.
        head.audit_seq, head.audit_head = chain
        error = describe_error(exc)
        log.error("review action %s refused: %s", action.action_id, error)
    version = _remember_refusal(conn, cur, action, clock)
    return ReviewReport(invalid(action, version, REFUSED_BY_DATABASE), error=error)


def _review_one(
    cur: psycopg.Cursor,
    locked: dict[str, LockedPatient],
    action: ReviewAction,
    clock: Clock,
    keyring: AuditKeyring,
) -> ReviewReport:
    seen = review_actions.decided_action(cur, action.action_id)
    if seen is not None:
        decision = replayed(action, ReviewOutcome(seen.outcome), seen.reason, seen.version_after)
        return ReviewReport(decision, replayed=True, decided_at=seen.decided_at.astimezone(UTC))
    now = clock()
    stored = documents.load_documents(cur, [action.document_id], for_update=True)
    previous = stored.get(action.document_id)
    decision = plan_review(action, previous, now)
    if decision.writes:
        if decision.changes is not None:
            change = ChangeSet(action.patient_id, action.document_id, decision.changes)
            resources.apply_resource_changes(cur, [change], now)
        documents.record_review(cur, decision, now)
        append_audit(cur, locked, [review_entry(decision, now)], keyring)
    if previous is not None:
        # Conflicts are remembered too, so a redelivered action gets the same answer.
        review_actions.remember_decision(cur, decision, now)
        if decision.writes:
            # A label for threshold tuning: on the extraction the reviewer saw.
            verdicts.record_verdict(cur, verdict_of(decision, previous, now))
        return ReviewReport(decision, rule_set_version=previous.rule_set_version, decided_at=now)
    return ReviewReport(decision, decided_at=now)


def _remember_refusal(
    conn: psycopg.Connection, cur: psycopg.Cursor, action: ReviewAction, clock: Clock
) -> int:
    """Remember an action refused as invalid; returns the document's version (0: none)."""
    try:
        with conn.transaction():
            stored = documents.load_documents(cur, [action.document_id], for_update=False)
            version = stored[action.document_id].version if stored else 0
            review_actions.remember_refusal(
                cur,
                action_id=action.action_id,
                document_id=action.document_id,
                action=action.action.value,
                reviewer=action.reviewer,
                reason=REFUSED_BY_DATABASE,
                version=version,
                now=clock(),
            )
            return version
    except Exception as exc:
        if is_transient(exc):
            raise
        log.exception("could not remember the refusal of action %s", action.action_id)
        return 0


def refuse_action(
    conn: psycopg.Connection,
    clock: Clock,
    *,
    action_id: uuid.UUID,
    document_id: str,
    patient_id: str,
    action: str,
    reviewer: str,
    reason: str,
) -> int:
    """Answer an action refused at the edge `invalid`, and remember it under its id; returns
    the document's version (0 when there is no such document of this patient)."""
    with transaction(conn) as cur:
        documents.lock_patients(cur, [patient_id])
        stored = documents.load_documents(cur, [document_id], for_update=False)
        version = stored[document_id].version if stored else 0
        if stored and stored[document_id].patient_id == patient_id:
            review_actions.remember_refusal(
                cur,
                action_id=action_id,
                document_id=document_id,
                action=action,
                reviewer=reviewer,
                reason=reason,
                version=version,
                now=clock(),
            )
        return version
