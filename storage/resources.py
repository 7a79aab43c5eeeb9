"""Resource rows and their history: writing a document's planned resource changes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from domain.merge_plan import ChangeSet
from storage.copy_text import copy_field, copy_rows, copy_text


def apply_resource_changes(cur: psycopg.Cursor, sets: Sequence[ChangeSet], now: datetime) -> None:
    """Superseded rows moved to history, new rows in (COPY: the fast path)."""
    superseded = [(old.resource_id, why) for s in sets for old, why in s.changes.superseded]
    if superseded:
        _move_to_history(cur, superseded, now)
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


def _move_to_history(
    cur: psycopg.Cursor, superseded: Sequence[tuple[str, str]], now: datetime
) -> None:
    # In the server, one statement: the stored jsonb as it is, nothing sent back and parsed again.
    # Its time is the version's own (meta.lastUpdated, as served), else the row's.
    ids, reasons = zip(*superseded, strict=True)
    cur.execute(
        "WITH gone AS (DELETE FROM resources r USING unnest(%(ids)s::text[], %(why)s::text[]) "
        "AS s (resource_id, why) WHERE r.resource_id = s.resource_id "
        "RETURNING r.resource_id, r.version_id, r.patient_id, r.document_id, r.resource_type, "
        "r.body, r.last_updated, s.why) "
        "INSERT INTO resource_history (resource_id, version_id, patient_id, document_id, "
        "resource_type, body, last_updated, superseded_at, superseded_by) "
        "SELECT resource_id, version_id, patient_id, document_id, resource_type, body, "
        "COALESCE((body #>> '{meta,lastUpdated}')::timestamptz, last_updated), %(now)s, why "
        "FROM gone",
        {"ids": list(ids), "why": list(reasons), "now": now},
    )
    if cur.rowcount != len(ids):
        # The plan was made from rows read under the patient's lock: they cannot have gone.
        raise RuntimeError(
            f"{len(ids)} superseded resources planned, {cur.rowcount} stored: "
            "the resource rows changed under the patient's lock"
        )


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
