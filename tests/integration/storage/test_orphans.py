"""Resources always belong to a stored document and patient, and the extraction reads back
exactly, though migration 0009 dropped the resources' foreign keys and the extraction's jsonb:
the merge and review transactions guard the invariant (docs/contract.md#storage)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from domain.reports import IncomingExtraction
from schemas import ActorKind, ReviewAction
from storage.db import connect
from storage.read import document_extraction, document_state

from ._factories import RECEIVED, extraction, incoming, merge, review, rollback

ORPHANS = (
    "SELECT count(*) FROM resources r WHERE NOT EXISTS "
    "(SELECT 1 FROM documents d WHERE d.document_id = r.document_id AND d.patient_id = "
    "r.patient_id) OR NOT EXISTS (SELECT 1 FROM patients p WHERE p.patient_id = r.patient_id)"
)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url) as c:
        yield c


def orphans(conn: psycopg.Connection) -> int:
    row = conn.execute(ORPHANS).fetchone()
    conn.commit()
    return int(row[0]) if row else -1


def test_no_write_path_leaves_an_orphan_resource(conn):
    merge(conn, [incoming(extraction("o1", "p-new", n=4)), incoming(extraction("o2", n=3))])
    assert orphans(conn) == 0
    merge(conn, [incoming(extraction("o1", "p-new", version=2, n=2, tag="v2"))])
    assert orphans(conn) == 0
    # A document naming another patient is refused, never re-owned.
    merge(conn, [incoming(extraction("o1", "p-other", version=3, n=2))])
    assert orphans(conn) == 0
    state = document_state(conn, "o2")
    conn.commit()
    assert state is not None
    corrected = ReviewAction(
        document_id="o2",
        patient_id="p-1",
        action="correct_data",
        reviewer="r",
        actor_kind=ActorKind.REVIEWER,
        expected_version=state.version,
        corrected_resources=[{"resourceType": "Observation", "status": "final"}],
    )
    review(conn, [corrected])
    assert orphans(conn) == 0
    assert rollback(conn, "o1", actor="op") == 2
    assert orphans(conn) == 0
    assert conn.execute("SELECT count(*) FROM resources").fetchone() == (1,)


def test_the_extraction_reads_back_as_received(conn):
    result = extraction("x1", n=3)
    raw = result.model_dump_json().encode()
    merge(conn, [IncomingExtraction(result, RECEIVED, raw=raw)])
    stored = document_extraction(conn, "x1")
    head = conn.execute(
        "SELECT extraction IS NULL, extraction_head->'document'->>'title' FROM documents"
    ).fetchone()
    assert stored is not None and stored["document_id"] == "x1"
    assert len(stored["resources"]) == 3
    assert head == (True, "Report x1")
