"""Signed records of verification runs (append-only): written by `optimerge audit checkpoint`,
the newest read by the audit page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True, slots=True)
class StoredVerification:
    run_id: uuid.UUID
    verified_at: datetime
    record: str
    key_id: str
    signature: str


def record_verification(conn: psycopg.Connection, row: StoredVerification) -> None:
    with conn.transaction():
        conn.execute(
            "INSERT INTO audit_verifications (run_id, verified_at, record, key_id, signature) "
            "VALUES (%s, %s, %s, %s, %s)",
            (row.run_id, row.verified_at, row.record, row.key_id, row.signature),
        )


def newest_verification(conn: psycopg.Connection) -> StoredVerification | None:
    row = conn.execute(
        "SELECT run_id, verified_at, record, key_id, signature FROM audit_verifications "
        "ORDER BY verified_at DESC LIMIT 1"
    ).fetchone()
    return None if row is None else StoredVerification(*row)
