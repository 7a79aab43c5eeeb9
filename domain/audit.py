"""Audit entries and their per-patient hash chain: altering an entry breaks every later hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import orjson

ActorKind = Literal["system", "reviewer", "operator"]

SYSTEM_ACTOR = "optimerge-merge-agent"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    patient_id: str
    document_id: str | None
    action: str
    actor_kind: ActorKind
    actor: str
    details: dict[str, Any]
    occurred_at: datetime


def chain_hash(prev_hash: str, seq: int, entry: AuditEntry) -> str:
    """sha256 over the previous hash and a canonical encoding of this entry."""
    payload = orjson.dumps(
        {
            "prev": prev_hash,
            "seq": seq,
            "patient_id": entry.patient_id,
            "document_id": entry.document_id,
            "action": entry.action,
            "actor_kind": entry.actor_kind,
            "actor": entry.actor,
            "details": entry.details,
            # Microseconds, UTC: what PostgreSQL's timestamptz keeps, so the hash survives storage.
            "occurred_at": int(entry.occurred_at.timestamp() * 1_000_000),
        },
        option=orjson.OPT_SORT_KEYS,
    )
    return hashlib.sha256(payload).hexdigest()


@dataclass(frozen=True, slots=True)
class ChainBreak:
    patient_id: str
    seq: int
    reason: str


def verify_chain(
    patient_id: str, rows: Iterable[tuple[int, str, str, AuditEntry]]
) -> ChainBreak | None:
    """Check one patient's entries, given in seq order as (seq, prev_hash, hash, entry)."""
    expected_prev = ""
    expected_seq = 1
    for seq, prev_hash, stored_hash, entry in rows:
        if seq != expected_seq:
            return ChainBreak(patient_id, seq, f"expected entry {expected_seq}, found {seq}")
        if prev_hash != expected_prev:
            return ChainBreak(patient_id, seq, "previous-hash link does not match")
        if chain_hash(prev_hash, seq, entry) != stored_hash:
            return ChainBreak(patient_id, seq, "entry content does not match its hash")
        expected_prev = stored_hash
        expected_seq += 1
    return None
