"""Audit entries and their per-patient chain of MACs: each entry's HMAC covers the previous
one, so altering, removing or forging an entry breaks the chain for anyone without the audit key
(docs/contract.md#audit-trail)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from domain.audit_keys import AuditKeyring, Purpose
from schemas.events import ActorKind

SYSTEM_ACTOR = "optimerge-merge-agent"


class AuditAction(StrEnum):
    """What an audit entry records (stored as its value; part of the chained hash)."""

    MERGE = "merge"
    REMERGE = "remerge"
    MERGE_FAILED = "merge_failed"
    MARK_CORRECT = "mark_correct"
    CORRECT_DATA = "correct_data"
    ROLLBACK = "rollback"
    LEGACY_IMPORT = "legacy_import"
    # An operator sent a dead letter back to its source topic (docs/contract.md#dead-letters).
    DLQ_RETRY = "dlq_retry"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    patient_id: str
    document_id: str | None
    action: AuditAction
    actor_kind: ActorKind
    actor: str
    details: dict[str, Any]
    occurred_at: datetime


def entry_payload(prev_hash: str, seq: int, entry: AuditEntry) -> bytes:
    """The canonical bytes an entry is chained and MAC'd over: sorted-key JSON of the previous
    link, `seq` and the entry's fields."""
    return orjson.dumps(
        {
            "prev": prev_hash,
            "seq": seq,
            "patient_id": entry.patient_id,
            "document_id": entry.document_id,
            "action": entry.action,
            "actor_kind": entry.actor_kind,
            "actor": entry.actor,
            "details": entry.details,
            # Microseconds, UTC: what PostgreSQL's timestamptz keeps, so the MAC survives storage.
            "occurred_at": int(entry.occurred_at.timestamp() * 1_000_000),
        },
        option=orjson.OPT_SORT_KEYS,
    )


def chain_hash(prev_hash: str, seq: int, entry: AuditEntry) -> str:
    """The unkeyed SHA-256 of entries written before the audit key existed (migration 0007):
    anyone can recompute it, so such entries are trusted only as far as a signed checkpoint
    vouches for them."""
    return hashlib.sha256(entry_payload(prev_hash, seq, entry)).hexdigest()


def entry_mac(
    keyring: AuditKeyring, prev_hash: str, seq: int, entry: AuditEntry
) -> tuple[str, str]:
    """(key id, HMAC-SHA256) of an entry under the current audit key."""
    return keyring.sign(Purpose.ENTRY, entry_payload(prev_hash, seq, entry))


def entry_mac_valid(
    keyring: AuditKeyring, key_id: str, prev_hash: str, seq: int, entry: AuditEntry, mac: str
) -> bool:
    return keyring.check(Purpose.ENTRY, key_id, entry_payload(prev_hash, seq, entry), mac)
