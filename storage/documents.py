"""Document rows: their stored state, their writes, and the patient rows that serialise every
write per patient."""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import psycopg

from domain.documents import DocumentWrite, reasons_json
from domain.failure_plan import FailureDecision
from domain.merge_plan import StoredDocument, StoredResource, last_merge_of
from domain.patients import PatientRecord, patient_record_from_parts
from domain.review_plan import ReviewDecision
from schemas import FlagReason, ProcessingStatus, ReviewStatus
from storage.db import Send, sent_together
from storage.extraction_blob import compress
from storage.patients import INSERT_PATIENT_IDS

T = TypeVar("T")


@dataclass(slots=True)
class LockedPatient:
    record: PatientRecord | None
    audit_seq: int
    audit_head: str


def lock_patients(cur: psycopg.Cursor, patient_ids: Collection[str]) -> dict[str, LockedPatient]:
    """Create missing patient rows, then lock all of them in a stable order (no deadlocks).

    The lock serialises every write for a patient, even between two workers that both believe
    they own its partition during a rebalance."""
    with sent_together(cur.connection) as send:
        locked = _send_lock(send, patient_ids)
    return locked()


def load_documents(
    cur: psycopg.Cursor, document_ids: Sequence[str], *, for_update: bool
) -> dict[str, StoredDocument]:
    """The stored state of these documents, with their current resources and retired versions."""
    with sent_together(cur.connection) as send:
        stored = _send_load(send, document_ids, for_update=for_update)
    return stored()


def lock_and_load(
    cur: psycopg.Cursor, patient_ids: Collection[str], document_ids: Sequence[str]
) -> tuple[dict[str, LockedPatient], dict[str, StoredDocument]]:
    """`lock_patients`, then `load_documents` locked for update: the same statements in the
    same order, sent together (one wait on the server where there were up to five)."""
    locked, stored, _ = lock_and_load_asking(cur, patient_ids, document_ids, _nothing)
    return locked, stored


def lock_and_load_asking(
    cur: psycopg.Cursor,
    patient_ids: Collection[str],
    document_ids: Sequence[str],
    ask: Callable[[Send], T],
) -> tuple[dict[str, LockedPatient], dict[str, StoredDocument], T]:
    """`lock_and_load`, with the queries `ask` sends after them in the same wait; returns what
    `ask` returned, to be read now that all are answered."""
    with sent_together(cur.connection) as send:
        locked = _send_lock(send, patient_ids)
        stored = _send_load(send, document_ids, for_update=True)
        asked = ask(send)
    return locked(), stored(), asked


def _nothing(send: Send) -> None:
    return None


def _send_lock(send: Send, patient_ids: Collection[str]) -> Callable[[], dict[str, LockedPatient]]:
    ordered = sorted(set(patient_ids))
    send(INSERT_PATIENT_IDS, (ordered,))
    # The record's names (every `use`) and its birthDate, partial or not, rather than the
    # columns: they hold only the official name and full dates. Not the whole jsonb: it is big.
    sent = send(
        "SELECT patient_id, record IS NOT NULL, record->'name', record->>'birthDate', "
        "audit_seq, audit_head "
        "FROM patients WHERE patient_id = ANY(%s) ORDER BY patient_id FOR UPDATE",
        (ordered,),
    )

    def read() -> dict[str, LockedPatient]:
        locked: dict[str, LockedPatient] = {}
        for pid, known, names, birth_date, seq, head in sent.rows():
            record = patient_record_from_parts(pid, names, birth_date) if known else None
            locked[pid] = LockedPatient(record, seq, head)
        return locked

    return read


_STATE_COLUMNS = (
    "document_id, patient_id, extraction_version, version, review_status, processing_status, "
    "is_merged, flag_reasons, attempts, content_hash, id_scheme, rule_set_version, "
    "event_id, merged_at, received_at, processing_ms, reviewed_at, failed_at"
)


def _send_load(
    send: Send, document_ids: Sequence[str], *, for_update: bool
) -> Callable[[], dict[str, StoredDocument]]:
    if not document_ids:
        return dict  # nothing to ask: no rows
    # Resources and retired versions are asked for every id, found or not: no second wait.
    ids = list(document_ids)
    lock = " FOR UPDATE" if for_update else ""
    states = send(
        f"SELECT {_STATE_COLUMNS} FROM documents WHERE document_id = ANY(%s){lock}", (ids,)
    )
    current = send(
        "SELECT document_id, resource_id, resource_type, version_id, body FROM resources "
        "WHERE document_id = ANY(%s) ORDER BY resource_id",
        (ids,),
    )
    # A stored resource's version is above its history's: a removal's row is the one that counts.
    history = send(
        "SELECT document_id, resource_id, max(version_id) FROM resource_history "
        "WHERE document_id = ANY(%s) AND superseded_by = 'delete' "
        "GROUP BY document_id, resource_id",
        (ids,),
    )

    def read() -> dict[str, StoredDocument]:
        rows = states.rows()
        resources: dict[str, list[StoredResource]] = {r[0]: [] for r in rows}
        for doc_id, rid, rtype, vid, body in current.rows():
            if doc_id in resources:
                resources[doc_id].append(StoredResource(rid, rtype, vid, body))
        retired: dict[str, dict[str, int]] = {r[0]: {} for r in rows}
        for doc_id, rid, vmax in history.rows():
            if doc_id in retired:
                retired[doc_id][rid] = vmax
        return _stored(rows, resources, retired)

    return read


def _stored(
    rows: list[tuple[Any, ...]],
    resources: dict[str, list[StoredResource]],
    retired: dict[str, dict[str, int]],
) -> dict[str, StoredDocument]:
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
            id_scheme=scheme,
            rule_set_version=rule_set_version,
            last_merge=last_merge_of(
                event_id=event_id,
                is_merged=is_merged,
                processing_status=ProcessingStatus(processing_status),
                merged_at=_utc(merged_at),
                received_at=_utc(received_at),
                processing_ms=processing_ms,
                changed_at=(_utc(reviewed_at), _utc(failed_at)),
            ),
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
            scheme,
            rule_set_version,
            event_id,
            merged_at,
            received_at,
            processing_ms,
            reviewed_at,
            failed_at,
        ) in rows
    }


def _utc(at: datetime | None) -> datetime | None:
    # In UTC, as the worker made it: an output built from it again must be the same bytes.
    return at.astimezone(UTC) if at is not None else None


# The columns a merge owns; the review columns are cleared by a merge (a new extraction).
DOCUMENT_COLUMNS = (
    "document_id",
    "patient_id",
    "extraction_version",
    "version",
    "review_status",
    "auto_approved",
    "flag_reasons",
    "confidence",
    "model_name",
    "model_version",
    "is_fallback",
    "resource_count",
    "processing_status",
    "attempts",
    "error",
    "is_merged",
    "event_id",
    "content_hash",
    "extraction_lz4",
    "extraction_head",
    "uploaded_at",
    "extracted_at",
    "received_at",
    "merged_at",
    "failed_at",
    "processing_ms",
    "reviewer",
    "reviewed_at",
    "id_scheme",
    "rule_set_version",
)

_UPSERT_SQL = (
    f"INSERT INTO documents ({', '.join(DOCUMENT_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(DOCUMENT_COLUMNS))}) "
    "ON CONFLICT (document_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in DOCUMENT_COLUMNS[1:])
    + ", extraction = NULL, review_note = NULL, updated_at = now()"
)


def _row(doc: DocumentWrite) -> tuple[object, ...]:
    return (
        doc.document_id,
        doc.patient_id,
        doc.extraction_version,
        doc.version,
        doc.review_status.value,
        doc.auto_approved,
        doc.flag_reasons_json(),
        doc.confidence,
        doc.model_name,
        doc.model_version,
        doc.is_fallback,
        doc.resource_count,
        doc.processing_status.value,
        doc.attempts,
        doc.error,
        doc.is_merged,
        doc.event_id,
        doc.content_hash,
        # Compressed, in place of the jsonb `extraction` (migration 0009; extraction_blob.py).
        compress(doc.extraction),
        doc.extraction_head,
        doc.uploaded_at,
        doc.extracted_at,
        doc.received_at,
        doc.merged_at,
        doc.failed_at,
        doc.processing_ms,
        doc.reviewer,
        doc.reviewed_at,
        doc.id_scheme,
        doc.rule_set_version,
    )


def insert_new_documents(cur: psycopg.Cursor, docs: Sequence[DocumentWrite]) -> None:
    """COPY rows of documents the caller saw absent with their patient rows locked: no other
    writer can insert them meanwhile, so no conflict handling is needed (the fast path)."""
    if docs:
        with cur.copy(f"COPY documents ({', '.join(DOCUMENT_COLUMNS)}) FROM STDIN") as copy:
            for doc in docs:
                copy.write_row(_row(doc))


def insert_documents_strictly(cur: psycopg.Cursor, docs: Sequence[DocumentWrite]) -> None:
    """INSERT without ON CONFLICT: a document stored meanwhile by another writer fails the
    whole statement (the legacy import retries its batch) rather than being overwritten."""
    if docs:
        cur.executemany(
            f"INSERT INTO documents ({', '.join(DOCUMENT_COLUMNS)}) "
            f"VALUES ({', '.join(['%s'] * len(DOCUMENT_COLUMNS))})",
            [_row(doc) for doc in docs],
        )


def upsert_documents(cur: psycopg.Cursor, docs: Sequence[DocumentWrite]) -> None:
    """Insert or replace the merge-owned columns of document rows (one statement, pipelined)."""
    if docs:
        cur.executemany(_UPSERT_SQL, [_row(doc) for doc in docs])


def mark_failed(
    cur: psycopg.Cursor,
    document_id: str,
    decision: FailureDecision,
    error: str,
    content_hash: str,
    now: datetime,
) -> None:
    """A stored document whose newer extraction failed: flagged and FAILED, resources kept."""
    cur.execute(
        "UPDATE documents SET version = %s, review_status = 'flagged', auto_approved = false, "
        "flag_reasons = %s, processing_status = 'FAILED', attempts = %s, error = %s, "
        "failed_at = %s, content_hash = %s, updated_at = now() WHERE document_id = %s",
        (
            decision.version,
            reasons_json(decision.flag_reasons),
            decision.attempts,
            error,
            now,
            content_hash,
            document_id,
        ),
    )


def record_review(cur: psycopg.Cursor, decision: ReviewDecision, now: datetime) -> None:
    """The document row after an applied review action (its resources are written apart)."""
    action = decision.action
    status = decision.review_status or ReviewStatus.REVIEWED
    count_sql = (
        "(SELECT count(*) FROM resources WHERE document_id = %(doc)s)"
        if decision.changes is not None
        else "resource_count"
    )
    cur.execute(
        "UPDATE documents SET version = %(version)s, review_status = %(status)s, "
        "auto_approved = false, is_merged = %(merged)s, reviewer = %(reviewer)s, "
        f"reviewed_at = %(now)s, review_note = %(note)s, resource_count = {count_sql}, "
        "updated_at = now() WHERE document_id = %(doc)s",
        {
            "version": decision.version,
            "status": status.value,
            "merged": decision.is_merged,
            "reviewer": action.reviewer,
            "now": now,
            "note": action.note or None,
            "doc": action.document_id,
        },
    )
