"""Audit entries and their per-patient hash chain: altering an entry breaks every later hash
(docs/contract.md#audit-trail)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

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


@dataclass(frozen=True, slots=True)
class ChainReport:
    patients: int
    entries: int
    breaks: list[ChainBreak] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.breaks


# One stored entry as the verifier reads it: (seq, prev_hash, hash, entry).
ChainRow = tuple[int, str, str, AuditEntry]


def verify_chain(patient_id: str, rows: Iterable[ChainRow]) -> ChainBreak | None:
    """Check one patient's entries, given in seq order."""
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


def verify_chains(
    chains: Iterable[tuple[str, list[ChainRow]]],
    heads: Iterable[tuple[str, int, str]],
    last_entries: dict[str, tuple[int, str]],
) -> ChainReport:
    """Every patient's chain, and each stored head (patient, seq, hash) against its last entry."""
    breaks: list[ChainBreak] = []
    patients = entries = 0
    for patient_id, rows in chains:
        patients += 1
        entries += len(rows)
        found = verify_chain(patient_id, rows)
        if found:
            breaks.append(found)
    for patient_id, seq, head in heads:
        if last_entries.get(patient_id, (0, "")) != (seq, head):
            breaks.append(
                ChainBreak(patient_id, seq, "chain head on the patient row does not match")
            )
    return ChainReport(patients, entries, breaks)
