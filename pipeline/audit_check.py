"""Checking the audit trail (docs/contract.md#audit-trail): every patient's chain against the
audit key and the newest signed checkpoint, in one REPEATABLE READ snapshot, so a merge
committing meanwhile cannot look like a broken chain.

Incremental (the default): a chain exactly as its checkpoint left it (head, entry count, the
checkpointed entry's MAC: compared in PostgreSQL) is not read at all; any other is checked from
the entry its checkpoint vouches for (or from its first, without one). Full: every entry from
the first, MACs and legacy hashes recomputed."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg

from config import ResolvedSettings
from domain.audit_checkpoints import Checkpoints, head_of, newest_checkpoints
from domain.audit_keys import AuditKeyring
from domain.audit_verify import (
    BreakKind,
    ChainBreak,
    PatientCheck,
    StoredEntry,
    VerifyReport,
    verify_patient,
)
from schemas.audit import AuditCheckpoint
from storage.audit_chains import (
    all_entries,
    entries_from,
    entry_counts,
    read_heads,
    unsettled_patients,
)
from storage.db import snapshot
from streams.checkpoints import read_checkpoints
from streams.topics import Topics


def load_checkpoints(settings: ResolvedSettings, keyring: AuditKeyring) -> Checkpoints:
    """Every checkpoint on audit.checkpoints now, the newest valid one of each patient kept."""
    topic = Topics(settings.topic_prefix).audit_checkpoints
    found = read_checkpoints(settings.kafka_endpoint, topic)
    return newest_checkpoints(keyring, found.records, unreadable=found.unreadable)


def verify_audit(
    conn: psycopg.Connection,
    keyring: AuditKeyring,
    checkpoints: Checkpoints,
    *,
    full: bool = False,
    patient_id: str | None = None,
) -> VerifyReport:
    """Every patient's chain (or one's). Opens its own snapshot unless the caller is in a
    transaction already (whose snapshot it then shares)."""
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        return _verify(conn, keyring, checkpoints, full, patient_id)
    with snapshot(conn):
        return _verify(conn, keyring, checkpoints, full, patient_id)


def _verify(
    conn: psycopg.Connection,
    keyring: AuditKeyring,
    checkpoints: Checkpoints,
    full: bool,
    patient_id: str | None,
) -> VerifyReport:
    newest = {p: c for p, c in checkpoints.newest.items() if patient_id is None or p == patient_id}
    report = VerifyReport("full" if full else "incremental", checkpoints=len(newest))
    report.checkpointed_at = max((c.checkpointed_at for c in newest.values()), default=None)
    report.breaks.extend(_forged(checkpoints, patient_id))
    stream: Iterator[tuple[str, list[StoredEntry]]]
    if full:
        heads = read_heads(conn, patient_id)
        counts = entry_counts(conn, patient_id)
        # Patients never audited (registry rows only) are no chains to speak of.
        patients = {p for p, head in heads.items() if head != (0, "")} | set(counts) | set(newest)
        stream = all_entries(conn, patient_id)
    else:
        # Only chains that moved since their checkpoint (or have none) are read at all.
        todo = unsettled_patients(conn, {p: (c.seq, c.head) for p, c in newest.items()})
        if patient_id is not None:
            todo &= {patient_id}
        report.patients += len(newest.keys() - todo)
        heads, counts, patients = read_heads(conn, todo), entry_counts(conn, todo), todo
        stream = entries_from(conn, {p: newest[p].seq if p in newest else 1 for p in todo})
    seen: set[str] = set()
    for pid, rows in stream:
        seen.add(pid)
        report.add(_check(pid, rows, keyring, newest, heads, counts, full))
    for pid in sorted(patients - seen):
        report.add(_check(pid, [], keyring, newest, heads, counts, full))
    return report


def _check(
    pid: str,
    rows: list[StoredEntry],
    keyring: AuditKeyring,
    newest: dict[str, AuditCheckpoint],
    heads: dict[str, tuple[int, str]],
    counts: dict[str, int],
    full: bool,
) -> PatientCheck:
    checkpoint = newest.get(pid)
    return verify_patient(
        pid,
        rows,
        keyring,
        checkpoint=head_of(checkpoint) if checkpoint is not None else None,
        stored_head=heads.get(pid),
        full=full,
        count=counts.get(pid, 0),
    )


def _forged(checkpoints: Checkpoints, patient_id: str | None) -> list[ChainBreak]:
    breaks = [
        ChainBreak(
            c.patient_id,
            c.seq,
            BreakKind.FORGED_CHECKPOINT,
            "a checkpoint on audit.checkpoints does not carry a valid signature: forged",
        )
        for c in checkpoints.forged
        if patient_id is None or c.patient_id == patient_id
    ]
    if checkpoints.unreadable and patient_id is None:
        breaks.append(
            ChainBreak(
                "",
                0,
                BreakKind.FORGED_CHECKPOINT,
                f"{checkpoints.unreadable} message(s) on audit.checkpoints are no checkpoint",
            )
        )
    return breaks
