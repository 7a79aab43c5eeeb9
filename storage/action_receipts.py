"""Receipts of signed review actions: where each action_id was first read (pipeline/signatures.py
tells a redelivery, the same offset, from a replay, any other)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True, slots=True)
class Receipt:
    action_id: uuid.UUID
    body_sha256: str
    signed_by: str
    source_topic: str
    source_partition: int
    source_offset: int
    received_at: datetime

    def same_place(self, other: Receipt) -> bool:
        return (self.source_topic, self.source_partition, self.source_offset) == (
            other.source_topic,
            other.source_partition,
            other.source_offset,
        )


def first_receipts(cur: psycopg.Cursor, receipts: list[Receipt]) -> dict[uuid.UUID, Receipt]:
    """Record each receipt unless its action_id was seen before; returns the first receipt
    of every action_id given (the one just written, or the earlier one)."""
    for r in receipts:
        cur.execute(
            "INSERT INTO review_action_receipts (action_id, body_sha256, signed_by, "
            "source_topic, source_partition, source_offset, received_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (action_id) DO NOTHING",
            (
                r.action_id,
                r.body_sha256,
                r.signed_by,
                r.source_topic,
                r.source_partition,
                r.source_offset,
                r.received_at,
            ),
        )
    cur.execute(
        "SELECT action_id, body_sha256, signed_by, source_topic, source_partition, "
        "source_offset, received_at FROM review_action_receipts WHERE action_id = ANY(%s)",
        ([r.action_id for r in receipts],),
    )
    return {row[0]: Receipt(*row) for row in cur.fetchall()}
