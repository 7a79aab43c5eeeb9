"""Review actions already decided: a redelivered action is recognised and answered the same."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg

from domain.review_plan import ReviewDecision


@dataclass(frozen=True, slots=True)
class DecidedAction:
    outcome: str
    reason: str
    version_after: int
    decided_at: datetime


def decided_action(cur: psycopg.Cursor, action_id: uuid.UUID) -> DecidedAction | None:
    cur.execute(
        "SELECT outcome, reason, version_after, applied_at FROM review_actions "
        "WHERE action_id = %s",
        (action_id,),
    )
    row = cur.fetchone()
    return None if row is None else DecidedAction(row[0], row[1] or "", row[2], row[3])


def remember_decision(cur: psycopg.Cursor, decision: ReviewDecision, now: datetime) -> None:
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


def remember_refusal(
    cur: psycopg.Cursor,
    *,
    action_id: uuid.UUID,
    document_id: str,
    action: str,
    reviewer: str,
    reason: str,
    version: int,
    now: datetime,
) -> None:
    """An action refused as `invalid` (docs/contract.md#review-states): a redelivery is
    answered the same. Nothing is written when the action id was decided already."""
    cur.execute(
        "INSERT INTO review_actions (action_id, document_id, action, reviewer, outcome, "
        "reason, version_after, applied_at) "
        "SELECT %s, %s, %s, %s, 'invalid', %s, %s, %s "
        "WHERE EXISTS (SELECT 1 FROM documents WHERE document_id = %s) "
        "ON CONFLICT (action_id) DO NOTHING",
        (action_id, document_id, action, reviewer, reason, version, now, document_id),
    )
