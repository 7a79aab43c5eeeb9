"""Verifying one patient's audit chain against the audit key and its newest checkpoint (pure;
docs/contract.md#audit-trail). A full check starts at entry 1; an incremental one at the entry
the checkpoint vouches for, which must still be there, unchanged."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from domain.audit import AuditEntry, chain_hash, entry_mac_valid
from domain.audit_checkpoints import VerifiedHead
from domain.audit_keys import AuditKeyring


class BreakKind(StrEnum):
    CONTENT = "content"  # the MAC (or a legacy hash) does not match: altered or forged
    LINK = "link"  # prev_hash is not the previous entry's MAC
    SEQUENCE = "sequence"  # entries missing in the middle
    TRUNCATED = "truncated"  # fewer entries than a checkpoint recorded
    REWRITTEN = "rewritten"  # the entry a checkpoint names is another one now
    UNKEYED = "unkeyed"  # no MAC where one was due
    UNKNOWN_KEY = "unknown_key"  # a MAC under a key the ring does not hold
    HEAD = "head"  # the head kept on the patient row is not the last entry
    FORGED_CHECKPOINT = "forged_checkpoint"  # a checkpoint whose signature does not verify


@dataclass(frozen=True, slots=True)
class ChainBreak:
    patient_id: str
    seq: int
    kind: BreakKind
    reason: str


@dataclass(frozen=True, slots=True)
class StoredEntry:
    """One audit row as the verifier reads it (key_id None: written before the key existed)."""

    seq: int
    prev_hash: str
    hash: str
    key_id: str | None
    entry: AuditEntry


@dataclass(frozen=True, slots=True)
class PatientCheck:
    patient_id: str
    checked: int
    # Where the chain now stands, intact: what the next checkpoint may vouch for.
    verified: VerifiedHead | None
    broken: ChainBreak | None = None


def verify_patient(
    patient_id: str,
    rows: Iterable[StoredEntry],
    keyring: AuditKeyring,
    *,
    checkpoint: VerifiedHead | None,
    stored_head: tuple[int, str] | None,
    full: bool,
    count: int | None = None,
) -> PatientCheck:
    """Check `rows` (seq order, from 1 when `full` or no checkpoint, else from the checkpoint's
    seq); the first bad entry is named. `stored_head` is (audit_seq, audit_head) of the patient
    row, None when there is no row; `count` how many entries the patient has in all."""
    incremental = checkpoint is not None and not full
    expected = checkpoint.seq if incremental and checkpoint else 1
    prev, last_seq, checked, legacy = "", 0, 0, 0
    keyed = False

    def broken(seq: int, kind: BreakKind, reason: str) -> PatientCheck:
        return PatientCheck(patient_id, checked, None, ChainBreak(patient_id, seq, kind, reason))

    for row in rows:
        if row.seq != expected:
            if checkpoint is not None and expected <= checkpoint.seq:
                return broken(
                    min(expected, count + 1) if count is not None else expected,
                    BreakKind.TRUNCATED,
                    f"entry {expected} is missing, though a checkpoint recorded entries up to "
                    f"{checkpoint.seq}: entries were deleted",
                )
            return broken(
                expected, BreakKind.SEQUENCE, f"expected entry {expected}, found {row.seq}"
            )
        at_checkpoint = checkpoint is not None and row.seq == checkpoint.seq
        if at_checkpoint and checkpoint is not None and row.hash != checkpoint.head:
            return broken(
                row.seq,
                BreakKind.REWRITTEN,
                f"entry {row.seq} is not the entry the checkpoint vouches for: the chain was "
                "rewritten",
            )
        if incremental and at_checkpoint:
            # Vouched for by the signed checkpoint: the check goes on from here.
            prev, last_seq, expected = row.hash, row.seq, expected + 1
            continue
        if row.prev_hash != prev:
            return broken(row.seq, BreakKind.LINK, "its link to the previous entry does not match")
        if row.key_id is None:
            allowed = row.seq <= checkpoint.legacy_seq if checkpoint is not None else not keyed
            if not allowed:
                return broken(
                    row.seq, BreakKind.UNKEYED, "it carries no MAC, as only entries written "
                    "before the audit key existed may",
                )  # fmt: skip
            if chain_hash(prev, row.seq, row.entry) != row.hash:
                return broken(row.seq, BreakKind.CONTENT, "its content does not match its hash")
            legacy = row.seq
        elif not keyring.knows(row.key_id):
            return broken(
                row.seq, BreakKind.UNKNOWN_KEY, f"its MAC is under key {row.key_id}, which the "
                "audit keyring does not hold (a retired key missing, or a forgery)",
            )  # fmt: skip
        elif not entry_mac_valid(keyring, row.key_id, prev, row.seq, row.entry, row.hash):
            return broken(
                row.seq, BreakKind.CONTENT, "its content does not match its MAC: altered or forged"
            )
        else:
            keyed = True
        prev, last_seq, expected, checked = row.hash, row.seq, expected + 1, checked + 1
    if checkpoint is not None and last_seq < checkpoint.seq:
        # An incremental run read nothing (the checkpoint's entry is gone): the count says how
        # far the chain still goes.
        return broken(
            (count if incremental and count is not None else last_seq) + 1,
            BreakKind.TRUNCATED,
            f"the chain ends at entry {last_seq}, but a checkpoint recorded entries up to "
            f"{checkpoint.seq}: entries were deleted",
        )
    if count is not None and count != last_seq:
        return broken(
            last_seq,
            BreakKind.SEQUENCE,
            f"{count} entries are stored but the chain ends at entry {last_seq}: entries before "
            "it were deleted",
        )
    if stored_head is not None and stored_head != (last_seq, prev):
        return broken(
            stored_head[0],
            BreakKind.HEAD,
            f"the chain head on the patient row (entry {stored_head[0]}) is not the last entry "
            f"({last_seq})",
        )
    if last_seq == 0:
        return PatientCheck(patient_id, checked, None)
    legacy_seq = checkpoint.legacy_seq if checkpoint is not None else legacy
    return PatientCheck(patient_id, checked, VerifiedHead(patient_id, last_seq, prev, legacy_seq))


@dataclass
class VerifyReport:
    """Every patient checked in one snapshot: what was read, and the first break of each."""

    mode: str
    patients: int = 0
    entries: int = 0
    breaks: list[ChainBreak] = field(default_factory=list)
    verified: list[VerifiedHead] = field(default_factory=list)
    # The checkpoints it started from: how many, and the newest one's time.
    checkpoints: int = 0
    checkpointed_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.breaks

    def add(self, check: PatientCheck) -> None:
        self.patients += 1
        self.entries += check.checked
        if check.broken is not None:
            self.breaks.append(check.broken)
        elif check.verified is not None:
            self.verified.append(check.verified)


def break_json(b: ChainBreak) -> dict[str, Any]:
    return {"patient_id": b.patient_id, "seq": b.seq, "kind": b.kind.value, "reason": b.reason}


def report_json(report: VerifyReport, *, max_breaks: int = 100) -> dict[str, Any]:
    """The report as `audit verify` prints it and verification records keep it."""
    first = report.breaks[0] if report.breaks else None
    return {
        "ok": report.ok,
        "mode": report.mode,
        "patients": report.patients,
        "entries": report.entries,
        "breaks": [break_json(b) for b in report.breaks[:max_breaks]],
        "breaks_total": len(report.breaks),
        "first_bad_entry": None
        if first is None
        else {"patient_id": first.patient_id, "seq": first.seq},
        "checkpoints": report.checkpoints,
        "checkpointed_at": report.checkpointed_at.isoformat() if report.checkpointed_at else None,
    }
