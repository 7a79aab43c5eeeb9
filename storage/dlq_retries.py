"""Dead-letter retries asked for by operators: written with their audit entries, then where the
replay landed; read back with the state of the document each one concerns."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


@dataclass(frozen=True, slots=True)
class RetryRow:
    retry_id: uuid.UUID
    letter_ref: str
    letter_event_id: uuid.UUID
    error_kind: str
    source_topic: str
    document_id: str | None
    patient_id: str | None
    requested_by: str
    fixed_payload: bool
    requested_at: datetime


def insert_retries(cur: psycopg.Cursor, rows: Sequence[RetryRow]) -> None:
    cur.executemany(
        "INSERT INTO dlq_retries (retry_id, letter_ref, letter_event_id, error_kind, "
        "source_topic, document_id, patient_id, requested_by, fixed_payload, requested_at, state) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'requested')",
        [
            (
                r.retry_id, r.letter_ref, r.letter_event_id, r.error_kind, r.source_topic,
                r.document_id, r.patient_id, r.requested_by, r.fixed_payload, r.requested_at,
            )
            for r in rows
        ],
    )  # fmt: skip


def mark_sent(conn: psycopg.Connection, landed: Mapping[uuid.UUID, tuple[int, int]]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "UPDATE dlq_retries SET state = 'sent', replay_partition = %s, replay_offset = %s "
            "WHERE retry_id = %s",
            [(p, o, rid) for rid, (p, o) in landed.items()],
        )


def mark_not_sent(conn: psycopg.Connection, retry_ids: Collection[uuid.UUID]) -> None:
    conn.execute(
        "UPDATE dlq_retries SET state = 'not_sent' "
        "WHERE retry_id = ANY(%s) AND state = 'requested'",
        (list(retry_ids),),
    )


_WITH_DOCUMENT = (
    "SELECT r.retry_id, r.letter_ref, r.error_kind, r.source_topic, r.document_id, "
    "r.patient_id, r.requested_by, r.fixed_payload, r.requested_at, r.state, "
    "r.replay_partition, r.replay_offset, d.processing_status, d.review_status, d.version, "
    "d.error, d.is_merged, d.updated_at AS document_updated_at "
    "FROM dlq_retries r LEFT JOIN documents d ON d.document_id = r.document_id "
)


def recent_retries(conn: psycopg.Connection, limit: int = 20) -> list[dict[str, Any]]:
    """The latest retries, newest first, each with its document's state now."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(_WITH_DOCUMENT + "ORDER BY r.requested_at DESC, r.retry_id LIMIT %s", (limit,))
        return cur.fetchall()


def retries_of(conn: psycopg.Connection, refs: Collection[str]) -> dict[str, dict[str, Any]]:
    """The latest retry of each of these letters."""
    if not refs:
        return {}
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            _WITH_DOCUMENT + "WHERE r.letter_ref = ANY(%s) ORDER BY r.requested_at", (list(refs),)
        )
        return {row["letter_ref"]: row for row in cur.fetchall()}
