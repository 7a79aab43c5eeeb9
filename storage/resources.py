"""Resource rows and their history: writing a document's planned resource changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from domain.merge_plan import ChangeSet
from schemas.exact_json import dumps_exact_text
from storage.copy_text import copy_field, copy_rows, copy_text


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
                        dumps_exact_text(old.body),
                        last,
                        now,
                        why,
                    )
                )
        cur.execute(
            "DELETE FROM resources WHERE resource_id = ANY(%s)",
            ([old.resource_id for _, old, _ in superseded],),
        )
    if any(s.changes.inserts or s.changes.updates for s in sets):
        with cur.copy(
            "COPY resources (resource_id, patient_id, document_id, resource_type, version_id, "
            "body, last_updated) FROM STDIN"
        ) as copy:
            last_updated = copy_text(now.isoformat())
            # A document at a time: psycopg sends as its buffer fills, so PostgreSQL parses
            # the first documents' jsonb while the next ones are formatted.
            for s in sets:
                copy.write(_resource_rows(s, last_updated))


def _resource_rows(s: ChangeSet, last_updated: bytes) -> bytes:
    # The body as the planner has it (the event's own text where it could), escaped once.
    owner = copy_text(s.patient_id), copy_text(s.document_id)
    return copy_rows(
        (
            copy_text(w.resource_id),
            *owner,
            copy_text(w.resource_type),
            str(w.version_id).encode(),
            copy_field(w.json_text()),
            last_updated,
        )
        for w in (*s.changes.inserts, *s.changes.updates)
    )


def owners_of(cur: psycopg.Cursor, ids: Sequence[str]) -> dict[str, str]:
    """The patient each of these ids belongs to: a stored resource's, or a patient's own id."""
    if not ids:
        return {}
    cur.execute(
        "SELECT resource_id, patient_id FROM resources WHERE resource_id = ANY(%(ids)s) "
        "UNION ALL SELECT patient_id, patient_id FROM patients WHERE patient_id = ANY(%(ids)s)",
        {"ids": list(ids)},
    )
    return dict(cur.fetchall())
