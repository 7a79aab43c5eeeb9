"""Low-level writes shared by merges and review actions: resource sets, history, document rows."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg

from domain.merge_plan import ResourceChanges


@dataclass(frozen=True, slots=True)
class ChangeSet:
    """Resource changes of one document, with whom they belong to."""

    patient_id: str
    document_id: str
    changes: ResourceChanges


def apply_resource_changes(cur: psycopg.Cursor, sets: Sequence[ChangeSet], now: datetime) -> None:
    """Old versions to history, superseded rows out, new rows in (COPY: the fast path)."""
    superseded = [(s, old, why) for s in sets for old, why in s.changes.superseded]
    if superseded:
        with cur.copy(
            "COPY resource_history (resource_id, version_id, patient_id, document_id, "
            "resource_type, body, last_updated, superseded_at, superseded_by) FROM STDIN"
        ) as copy:
            for s, old, why in superseded:
                last = old.body.get("meta", {}).get("lastUpdated") or now
                copy.write_row(
                    (
                        old.resource_id,
                        old.version_id,
                        s.patient_id,
                        s.document_id,
                        old.resource_type,
                        orjson.dumps(old.body).decode(),
                        last,
                        now,
                        why,
                    )
                )
        cur.execute(
            "DELETE FROM resources WHERE resource_id = ANY(%s)",
            ([old.resource_id for _, old, _ in superseded],),
        )
    writes = [(s, w) for s in sets for w in (*s.changes.inserts, *s.changes.updates)]
    if writes:
        with cur.copy(
            "COPY resources (resource_id, patient_id, document_id, resource_type, version_id, "
            "body, last_updated) FROM STDIN"
        ) as copy:
            for s, w in writes:
                copy.write_row(
                    (
                        w.resource_id,
                        s.patient_id,
                        s.document_id,
                        w.resource_type,
                        w.version_id,
                        orjson.dumps(w.body).decode(),
                        now,
                    )
                )


DOCUMENT_UPSERT_COLUMNS = (
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
    "extraction",
    "uploaded_at",
    "extracted_at",
    "received_at",
    "merged_at",
    "failed_at",
    "processing_ms",
)

_UPSERT_SQL = (
    f"INSERT INTO documents ({', '.join(DOCUMENT_UPSERT_COLUMNS)}) "
    f"VALUES ({', '.join(['%s'] * len(DOCUMENT_UPSERT_COLUMNS))}) "
    "ON CONFLICT (document_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in DOCUMENT_UPSERT_COLUMNS[1:])
    + ", reviewer = NULL, reviewed_at = NULL, review_note = NULL, updated_at = now()"
)


def upsert_documents(cur: psycopg.Cursor, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace the merge-owned columns of document rows (one statement, pipelined)."""
    if rows:
        cur.executemany(_UPSERT_SQL, [tuple(r[c] for c in DOCUMENT_UPSERT_COLUMNS) for r in rows])


def insert_new_documents(cur: psycopg.Cursor, rows: Sequence[dict[str, Any]]) -> None:
    """COPY rows of documents the caller saw absent with their patient rows locked: no other
    writer can insert them meanwhile, so no conflict handling is needed (the fast path)."""
    if rows:
        with cur.copy(f"COPY documents ({', '.join(DOCUMENT_UPSERT_COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row(tuple(r[c] for c in DOCUMENT_UPSERT_COLUMNS))
