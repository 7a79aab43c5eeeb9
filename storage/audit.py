"""The append-only audit trail: written in the caller's transaction, hash-chained per patient."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from domain.audit import AuditEntry, ChainBreak, chain_hash, verify_chain
from storage.documents import LockedPatient


def append_audit(
    cur: psycopg.Cursor, locked: dict[str, LockedPatient], entries: Sequence[AuditEntry]
) -> None:
    """Append entries for patients whose rows the caller holds locked; move their chain heads."""
    if not entries:
        return
    touched: set[str] = set()
    with cur.copy(
        "COPY audit_log (patient_id, seq, document_id, action, actor_kind, actor, details, "
        "occurred_at, prev_hash, hash) FROM STDIN"
    ) as copy:
        for entry in entries:
            head = locked[entry.patient_id]
            seq = head.audit_seq + 1
            digest = chain_hash(head.audit_head, seq, entry)
            copy.write_row(
                (
                    entry.patient_id,
                    seq,
                    entry.document_id,
                    entry.action,
                    entry.actor_kind,
                    entry.actor,
                    orjson.dumps(entry.details).decode(),
                    entry.occurred_at,
                    head.audit_head,
                    digest,
                )
            )
            head.audit_seq, head.audit_head = seq, digest
            touched.add(entry.patient_id)
    cur.executemany(
        "UPDATE patients SET audit_seq = %s, audit_head = %s WHERE patient_id = %s",
        [(locked[p].audit_seq, locked[p].audit_head, p) for p in sorted(touched)],
    )


def _entry(row: tuple[Any, ...]) -> AuditEntry:
    _, patient_id, _, document_id, action, actor_kind, actor, details, occurred_at = row[:9]
    return AuditEntry(patient_id, document_id, action, actor_kind, actor, details, occurred_at)


@dataclass(frozen=True, slots=True)
class ChainReport:
    patients: int
    entries: int
    breaks: list[ChainBreak]

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_audit_chains(conn: psycopg.Connection, patient_id: str | None = None) -> ChainReport:
    """Recompute every patient's chain (or one patient's) and compare it with the stored heads."""
    where, params = ("WHERE patient_id = %s", (patient_id,)) if patient_id else ("", ())
    breaks: list[ChainBreak] = []
    patients = entries = 0
    with conn.cursor(name="audit_verify") as cur:
        cur.itersize = 5000
        cur.execute(
            "SELECT audit_id, patient_id, seq, document_id, action, actor_kind, actor, details, "
            f"occurred_at, prev_hash, hash FROM audit_log {where} ORDER BY patient_id, seq",
            params,
        )
        for pid, rows in _group_by_patient(cur):
            patients += 1
            entries += len(rows)
            found = verify_chain(pid, ((r[2], r[9], r[10], _entry(r)) for r in rows))
            if found:
                breaks.append(found)
    heads = conn.execute(
        f"SELECT patient_id, audit_seq, audit_head FROM patients {where}", params
    ).fetchall()
    last = {
        pid: (seq, h)
        for pid, seq, h in conn.execute(
            "SELECT DISTINCT ON (patient_id) patient_id, seq, hash FROM audit_log "
            f"{where} ORDER BY patient_id, seq DESC",
            params,
        ).fetchall()
    }
    for pid, seq, head in heads:
        if last.get(pid, (0, "")) != (seq, head):
            breaks.append(ChainBreak(pid, seq, "chain head on the patient row does not match"))
    return ChainReport(patients, entries, breaks)


def _group_by_patient(
    cur: psycopg.Cursor,
) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    current: str | None = None
    rows: list[tuple[Any, ...]] = []
    for row in cur:
        if row[1] != current:
            if current is not None:
                yield current, rows
            current, rows = row[1], []
        rows.append(row)
    if current is not None:
        yield current, rows
