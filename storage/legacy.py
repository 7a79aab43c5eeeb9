"""What the legacy import reads: which of its documents are stored already, and for whom."""

from __future__ import annotations

from collections.abc import Sequence

import psycopg


def lock_stored_owners(cur: psycopg.Cursor, document_ids: Sequence[str]) -> dict[str, str]:
    """document id -> patient id of the documents stored already, their rows locked."""
    cur.execute(
        "SELECT document_id, patient_id FROM documents WHERE document_id = ANY(%s) FOR UPDATE",
        (list(document_ids),),
    )
    return dict(cur.fetchall())
