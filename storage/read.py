"""The read side: a document's stored state and a patient's record as a FHIR Bundle."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

from domain.bundle import Contribution, patient_bundle
from domain.documents import DocumentView

DOCUMENT_STATE_COLUMNS = (
    "document_id, patient_id, extraction_version, version, review_status, auto_approved, "
    "flag_reasons, confidence, model_name, model_version, is_fallback, resource_count, "
    "processing_status, attempts, error, is_merged, uploaded_at, extracted_at, received_at, "
    "merged_at, failed_at, processing_ms, reviewer, reviewed_at, review_note, created_at, "
    "updated_at"
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
    row = conn.execute(
        "SELECT extraction FROM documents WHERE document_id = %s", (document_id,)
    ).fetchone()
    return None if row is None else dict(row[0])


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
    """The patient's current record, read in one snapshot so resources and provenance agree."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        row = cur.execute(
            "SELECT record FROM patients WHERE patient_id = %s", (patient_id,)
        ).fetchone()
        if row is None:
            return None
        resources = cur.execute(
            "SELECT document_id, resource_type, body FROM resources WHERE patient_id = %s "
            "ORDER BY resource_type, document_id, resource_id",
            (patient_id,),
        ).fetchall()
        docs = cur.execute(
            "SELECT document_id, version, model_name, model_version, "
            "extraction->'document'->>'title', merged_at FROM documents "
            "WHERE patient_id = %s AND is_merged ORDER BY merged_at, document_id",
            (patient_id,),
        ).fetchall()
    refs: dict[str, list[str]] = {}
    for doc_id, rtype, body in resources:
        refs.setdefault(doc_id, []).append(f"{rtype}/{body['id']}")
    contributions = [
        Contribution(d, v, mn, mv, title, merged, tuple(refs.get(d, ())))
        for d, v, mn, mv, title, merged in docs
    ]
    return patient_bundle(
        patient_id, row[0], [r[2] for r in resources], contributions, now or datetime.now(UTC)
    )
