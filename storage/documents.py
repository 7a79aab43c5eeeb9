"""Reading the stored state of documents, and the patient rows that serialise writes per patient."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import psycopg

from domain.merge_plan import StoredDocument, StoredResource
from domain.patients import PatientRecord, patient_record_from_parts
from schemas import FlagReason, ProcessingStatus, ReviewStatus


@dataclass(slots=True)
class LockedPatient:
    record: PatientRecord | None
    audit_seq: int
    audit_head: str


def lock_patients(cur: psycopg.Cursor, patient_ids: Collection[str]) -> dict[str, LockedPatient]:
    """Create missing patient rows, then lock all of them in a stable order (no deadlocks).

    The lock serialises every write for a patient, even between two workers that both believe
    they own its partition during a rebalance."""
    ordered = sorted(set(patient_ids))
    cur.execute(
        "INSERT INTO patients (patient_id) SELECT unnest(%s::text[]) ORDER BY 1 "
        "ON CONFLICT (patient_id) DO NOTHING",
        (ordered,),
    )
    # The record's names (every `use`) and its birthDate, partial or not, rather than the
    # columns: they hold only the official name and full dates. Not the whole jsonb: it is big.
    cur.execute(
        "SELECT patient_id, record IS NOT NULL, record->'name', record->>'birthDate', "
        "audit_seq, audit_head "
        "FROM patients WHERE patient_id = ANY(%s) ORDER BY patient_id FOR UPDATE",
        (ordered,),
    )
    locked: dict[str, LockedPatient] = {}
    for pid, known, names, birth_date, seq, head in cur.fetchall():
        record = patient_record_from_parts(pid, names, birth_date) if known else None
        locked[pid] = LockedPatient(record, seq, head)
    return locked


_DOCUMENT_COLUMNS = (
    "document_id, patient_id, extraction_version, version, review_status, processing_status, "
    "is_merged, flag_reasons, attempts, content_hash"
)


def load_documents(
    cur: psycopg.Cursor, document_ids: Sequence[str], *, for_update: bool
) -> dict[str, StoredDocument]:
    """The stored state of these documents, with their current resources and retired versions."""
    if not document_ids:
        return {}
    lock = " FOR UPDATE" if for_update else ""
    cur.execute(
        f"SELECT {_DOCUMENT_COLUMNS} FROM documents WHERE document_id = ANY(%s){lock}",
        (list(document_ids),),
    )
    rows = cur.fetchall()
    if not rows:
        return {}
    found = [r[0] for r in rows]
    resources: dict[str, list[StoredResource]] = {d: [] for d in found}
    cur.execute(
        "SELECT document_id, resource_id, resource_type, version_id, body FROM resources "
        "WHERE document_id = ANY(%s) ORDER BY resource_id",
        (found,),
    )
    for doc_id, rid, rtype, vid, body in cur.fetchall():
        resources[doc_id].append(StoredResource(rid, rtype, vid, body))
    retired: dict[str, dict[str, int]] = {d: {} for d in found}
    cur.execute(
        "SELECT document_id, resource_id, max(version_id) FROM resource_history "
        "WHERE document_id = ANY(%s) GROUP BY document_id, resource_id",
        (found,),
    )
    for doc_id, rid, vmax in cur.fetchall():
        retired[doc_id][rid] = vmax
    return {
        doc_id: StoredDocument(
            document_id=doc_id,
            patient_id=pid,
            extraction_version=ev,
            version=version,
            review_status=ReviewStatus(review_status),
            processing_status=ProcessingStatus(processing_status),
            is_merged=is_merged,
            flag_reasons=tuple(FlagReason.model_validate(r) for r in reasons),
            attempts=attempts,
            content_hash=chash,
            resources=tuple(resources[doc_id]),
            retired_versions=retired[doc_id],
        )
        for (
            doc_id,
            pid,
            ev,
            version,
            review_status,
            processing_status,
            is_merged,
            reasons,
            attempts,
            chash,
        ) in rows
    }
