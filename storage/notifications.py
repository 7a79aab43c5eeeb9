"""The notifier's delivery log, and what its digest reads: plain SQL."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime

import psycopg

from domain.notifications import Notification, Waiting


def delivered(conn: psycopg.Connection, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """Which of `ids` were delivered already."""
    if not ids:
        return set()
    rows = conn.execute(
        "SELECT notification_id FROM notification_deliveries WHERE notification_id = ANY(%s)",
        (list(ids),),
    ).fetchall()
    return {r[0] for r in rows}


def record_delivery(
    conn: psycopg.Connection, n: Notification, attempts: int, status: int, at: datetime
) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO notification_deliveries (notification_id, channel, kind, subject, "
            "attempts, http_status, delivered_at) VALUES (%s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (notification_id) DO NOTHING",
            (n.notification_id, n.channel.name, n.kind, n.subject, attempts, status, at),
        )


def waiting_flagged(conn: psycopg.Connection, before: datetime, limit: int = 500) -> list[Waiting]:
    """Flagged documents received before `before`, oldest first."""
    rows = conn.execute(
        "SELECT document_id, patient_id, created_at, "
        "ARRAY(SELECT DISTINCT r->>'rule' FROM jsonb_array_elements(flag_reasons) r ORDER BY 1) "
        "FROM documents WHERE review_status = 'flagged' AND created_at < %s "
        "ORDER BY created_at, document_id LIMIT %s",
        (before, limit),
    ).fetchall()
    return [Waiting(d, p, at, tuple(rules)) for d, p, at, rules in rows]
