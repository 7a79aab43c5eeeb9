"""The merge engine against the real PostgreSQL: the rules of SPEC "Merge semantics"."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest

from schemas import ReviewAction
from storage.db import connect
from storage.read import document_state
from tests.audit_helpers import verify_trail

from ._factories import extraction, incoming, low_confidence_flags, merge, review, rollback


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url) as c:
        yield c


def snapshot(conn: psycopg.Connection) -> dict[str, object]:
    return {
        "resources": conn.execute(
            "SELECT resource_id, document_id, version_id, body FROM resources ORDER BY 1"
        ).fetchall(),
        "documents": conn.execute(
            "SELECT document_id, version, review_status, resource_count FROM documents ORDER BY 1"
        ).fetchall(),
        "audit": conn.execute("SELECT count(*) FROM audit_log").fetchone(),
    }


def test_merge_stores_resources_owned_by_the_document(conn):
    merge(conn, [incoming(extraction("d1", n=4))])
    rows = conn.execute("SELECT document_id, body FROM resources").fetchall()
    assert len(rows) == 4
    assert {body["meta"]["source"] for _, body in rows} == {"document_d1"}
    state = document_state(conn, "d1")
    assert state is not None
    assert state.review_status == "auto_approved" and state.auto_approved
    assert state.version == 1 and state.is_merged and state.resource_count == 4


def test_flagged_document_is_merged_too(conn):
    merge(conn, [incoming(extraction("d1", confidence=0.5))], low_confidence_flags)
    state = document_state(conn, "d1")
    assert state is not None and state.review_status == "flagged" and state.is_merged
    assert state.flag_reasons[0].rule == "low_confidence"


def test_retry_safety_same_batch_applied_three_times_interleaved(conn):
    batch = [incoming(extraction(f"d{i}", f"p-{i % 3}")) for i in range(6)]
    merge(conn, batch)
    first = snapshot(conn)
    merge(conn, batch)
    merge(conn, [incoming(extraction("other", "p-9"))])
    merge(conn, list(reversed(batch)))
    again = snapshot(conn)
    assert [d for d in again["documents"] if d[0] != "other"] == first["documents"]
    without_other = [r for r in again["resources"] if r[1] != "other"]
    assert without_other == first["resources"]
    assert again["audit"] == (first["audit"][0] + 1,)  # only the other document's merge


def test_newer_version_replaces_the_document_set_and_keeps_history(conn):
    merge(conn, [incoming(extraction("d1", n=4))])
    merge(conn, [incoming(extraction("d1", version=2, n=2, tag="b"))])
    assert conn.execute("SELECT count(*) FROM resources").fetchone() == (2,)
    versions = conn.execute("SELECT version_id FROM resources").fetchall()
    assert versions == [(2,), (2,)]
    assert conn.execute("SELECT count(*) FROM resource_history").fetchone() == (4,)
    merge(conn, [incoming(extraction("d1", version=1, n=9))])
    state = document_state(conn, "d1")
    assert state is not None and state.extraction_version == 2 and state.resource_count == 2


def _stored_versions(conn: psycopg.Connection) -> dict[str, tuple[int, dict[str, Any]]]:
    rows = conn.execute("SELECT resource_id, version_id, body FROM resources").fetchall()
    return {rid: (version, body) for rid, version, body in rows}


def test_superseded_versions_go_to_history_exactly_and_a_removed_one_continues(conn):
    merge(conn, [incoming(extraction("d1", n=4))])
    first = _stored_versions(conn)
    merge(conn, [incoming(extraction("d1", version=2, n=2, tag="b"))])  # 2 updated, 2 removed
    history = {
        (rid, version): (body, last_updated, why)
        for rid, version, body, last_updated, why in conn.execute(
            "SELECT resource_id, version_id, body, last_updated, superseded_by "
            "FROM resource_history"
        ).fetchall()
    }
    assert len(history) == 4
    removed = set()
    for rid, (version, body) in first.items():
        kept_body, last_updated, why = history[(rid, version)]
        assert kept_body == body  # the stored version itself, byte for byte as jsonb
        assert last_updated == datetime.fromisoformat(body["meta"]["lastUpdated"])
        assert why == ("delete" if body["code"]["text"] in ("finding 2", "finding 3") else "update")
        if why == "delete":
            removed.add(rid)
    merge(conn, [incoming(extraction("d1", version=3, n=4, tag="c"))])
    third = _stored_versions(conn)
    assert third.keys() == first.keys()
    # Updated twice: 3. Removed at 1 and merged again: 2, not 1 again (the key would clash).
    assert {rid: v for rid, (v, _) in third.items()} == {
        rid: 2 if rid in removed else 3 for rid in first
    }


def test_rollback_removes_only_the_target_documents_resources(conn):
    merge(conn, [incoming(extraction("d1", n=3)), incoming(extraction("d2", n=5))])
    others_before = conn.execute(
        "SELECT resource_id, body FROM resources WHERE document_id = 'd2' ORDER BY 1"
    ).fetchall()
    assert rollback(conn, "d1", actor="ops") == 3
    assert rollback(conn, "d1", actor="ops") == 0  # idempotent
    assert conn.execute("SELECT count(*) FROM resources WHERE document_id = 'd1'").fetchone() == (
        0,
    )
    others_after = conn.execute(
        "SELECT resource_id, body FROM resources WHERE document_id = 'd2' ORDER BY 1"
    ).fetchall()
    assert others_after == others_before
    merge(conn, [incoming(extraction("d1", n=3))])  # old event again
    state = document_state(conn, "d1")
    assert state is not None and state.review_status == "rejected" and not state.is_merged
    actions = conn.execute("SELECT action FROM audit_log WHERE document_id = 'd1'").fetchall()
    assert actions == [("merge",), ("rollback",)]


def test_review_actions_with_expected_version(conn):
    merge(conn, [incoming(extraction("d1", confidence=0.5))], low_confidence_flags)
    stale = ReviewAction(
        document_id="d1",
        patient_id="p-1",
        action="mark_correct",
        reviewer="ana",
        expected_version=0,
    )
    ok = ReviewAction(
        document_id="d1",
        patient_id="p-1",
        action="mark_correct",
        reviewer="ana",
        expected_version=1,
    )
    reports = review(conn, [stale, ok, ok])
    assert [r.decision.outcome.value for r in reports] == ["conflict", "applied", "applied"]
    assert reports[2].replayed
    state = document_state(conn, "d1")
    assert state is not None and state.review_status == "reviewed" and state.version == 2
    assert state.reviewer == "ana"


def test_correct_data_replaces_the_resources_with_the_reviewers_version(conn):
    merge(conn, [incoming(extraction("d1", n=2))])
    current = conn.execute("SELECT body FROM resources ORDER BY resource_type").fetchall()
    fixed = dict(current[0][0], code={"text": "corrected"})
    action = ReviewAction(
        document_id="d1",
        patient_id="p-1",
        action="correct_data",
        reviewer="ana",
        expected_version=1,
        corrected_resources=[fixed],
    )
    [report] = review(conn, [action])
    assert report.decision.outcome.value == "applied"
    rows = conn.execute("SELECT body FROM resources").fetchall()
    assert [r[0]["code"]["text"] for r in rows] == ["corrected"]
    assert rows[0][0]["meta"]["versionId"] == "2"
    details = conn.execute("SELECT details FROM audit_log WHERE action = 'correct_data'").fetchone()
    assert details is not None and details[0]["resources"]["removed"] == {"Observation": 1}


def test_audit_log_is_append_only_and_chain_verifies(conn):
    merge(conn, [incoming(extraction(f"d{i}")) for i in range(3)])
    assert verify_trail(conn).ok
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("UPDATE audit_log SET actor = 'mallory'")
    conn.rollback()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("DELETE FROM audit_log")
    conn.rollback()


def test_audit_verify_names_a_tampered_entry(conn):
    merge(conn, [incoming(extraction(f"d{i}")) for i in range(3)])
    conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete")
    conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_delete")
    conn.commit()
    report = verify_trail(conn)
    assert not report.ok
    assert [(b.patient_id, b.seq) for b in report.breaks] == [("p-1", 2)]


def test_a_merge_reads_its_patients_by_key_however_many_there_are(conn):
    # audit_append() once joined each batch with the whole patients table (migration 0012).
    conn.execute(
        "INSERT INTO patients (patient_id) SELECT 'many-' || n FROM generate_series(1, 5000) n"
    )
    conn.execute("ANALYZE patients")
    conn.commit()
    merge(conn, [incoming(extraction("d1", "many-17"))])
    with conn.transaction():
        merge(conn, [incoming(extraction("d2", "many-18"))])
        row = conn.execute(
            "SELECT seq_scan FROM pg_stat_xact_user_tables WHERE relname = 'patients'"
        ).fetchone()
    assert row == (0,)
    assert verify_trail(conn, "many-18").ok
