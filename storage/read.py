"""The read side: a document's stored state and a patient's record as a FHIR Bundle."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from domain.bundle import Contribution, patient_bundle
from domain.documents import DocumentView
from domain.fhir_ai import Extraction, decorate
from storage.extraction_blob import stored_extraction

DOCUMENT_STATE_COLUMNS = (
    "document_id, patient_id, extraction_version, version, review_status, auto_approved, "
    "flag_reasons, confidence, model_name, model_version, is_fallback, resource_count, "
    "processing_status, attempts, error, is_merged, uploaded_at, extracted_at, received_at, "
    "merged_at, failed_at, processing_ms, reviewer, reviewed_at, review_note, created_at, "
    "updated_at, rule_set_version"
)


def document_state(conn: psycopg.Connection, document_id: str) -> DocumentView | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {DOCUMENT_STATE_COLUMNS} FROM documents WHERE document_id = %s",
            (document_id,),
        )
        row = cur.fetchone()
    return None if row is None else DocumentView.model_validate(row)


def document_extraction(conn: psycopg.Connection, document_id: str) -> dict[str, Any] | None:
    """The extraction as received (storage/extraction_blob.py: compressed, or jsonb before 0009)."""
    row = conn.execute(
        "SELECT extraction_lz4, extraction FROM documents WHERE document_id = %s", (document_id,)
    ).fetchone()
    return None if row is None else stored_extraction(row[0], row[1])


def document_resources(conn: psycopg.Connection, document_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT body FROM resources WHERE document_id = %s ORDER BY resource_type, resource_id",
        (document_id,),
    ).fetchall()
    return [r[0] for r in rows]


def patient_exists(conn: psycopg.Connection, patient_id: str) -> bool:
    row = conn.execute("SELECT 1 FROM patients WHERE patient_id = %s", (patient_id,)).fetchone()
    return row is not None


def read_patient_bundle(
    conn: psycopg.Connection, patient_id: str, *, now: datetime | None = None
) -> dict[str, Any] | None:
    """The patient's current record, read in one snapshot so resources and provenance agree;
    resources carry the AI transparency labels of their document (domain/fhir_ai.py)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        row = cur.execute(
            "SELECT record FROM patients WHERE patient_id = %s", (patient_id,)
        ).fetchone()
        if row is None:
            return None
        resources = cur.execute(
            "SELECT document_id, resource_type, version_id, body FROM resources "
            "WHERE patient_id = %s ORDER BY resource_type, document_id, resource_id",
            (patient_id,),
        ).fetchall()
        docs = cur.execute(
            f"SELECT {CONTRIBUTION_COLUMNS} FROM documents "
            "WHERE patient_id = %s AND is_merged ORDER BY merged_at, document_id",
            (patient_id,),
        ).fetchall()
    refs: dict[str, list[str]] = {}
    for doc_id, rtype, version, body in resources:
        refs.setdefault(doc_id, []).append(f"{rtype}/{body['id']}/_history/{version}")
    contributions = [contribution(d, tuple(refs.get(d[0], ()))) for d in docs]
    facts = {c.document_id: c.extraction for c in contributions}
    decorated = [
        decorate(body, facts[doc_id], current=True) if doc_id in facts else body
        for doc_id, _, _, body in resources
    ]
    return patient_bundle(patient_id, row[0], decorated, contributions, now or datetime.now(UTC))


def contribution_columns(table: str = "") -> str:
    """Read by contribution(): the document's Provenance and AI transparency facts, of the
    documents table or of its alias `table`. The title is in extraction_head since migration
    0009, in the jsonb extraction of rows stored before."""
    t = f"{table}." if table else ""
    plain = [
        "document_id",
        "version",
        "confidence",
        "model_name",
        "model_version",
        "is_fallback",
        "review_status",
        "reviewer",
    ]
    title = f"coalesce({t}extraction_head, {t}extraction)->'document'->>'title'"
    later = ("merged_at", "extracted_at", "updated_at")
    return ", ".join([*(t + c for c in plain), title, *(t + c for c in later)])


CONTRIBUTION_COLUMNS = contribution_columns()


def contribution(row: Sequence[Any], refs: tuple[str, ...]) -> Contribution:
    (doc_id, version, confidence, name, model_version, fallback, status, reviewer) = row[:8]
    title, merged_at, extracted_at, updated_at = row[8:12]
    facts = Extraction(doc_id, confidence, name, model_version, fallback, status, reviewer)
    return Contribution(doc_id, version, facts, title, merged_at, refs, extracted_at, updated_at)
