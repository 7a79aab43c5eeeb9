"""`import-legacy` against the real PostgreSQL: states, resources, audit, idempotency, counts."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from domain.legacy import LegacyMapping, Unmapped, map_legacy, mark_duplicates
from domain.legacy_report import ImportReport
from domain.resources import resource_ids_for
from pipeline.legacy_import import import_legacy
from storage.db import connect
from storage.read import document_state
from tests.audit_helpers import shared_keyring, verify_trail
from tests.cli_runner import run_optimerge

from ._factories import extraction, incoming, merge

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "legacy_sample.jsonl"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
P1 = "5f1c2b7e-3a4d-4e8f-9b0a-1c2d3e4f5a61"


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url) as c:
        yield c


def sample() -> list[LegacyMapping | Unmapped]:
    lines = SAMPLE.read_bytes().splitlines()
    mapped = (map_legacy(orjson.loads(line), where=f"line {n}") for n, line in enumerate(lines, 1))
    return list(mark_duplicates(mapped))


def run(
    conn: psycopg.Connection,
    items: list[LegacyMapping | Unmapped] | None = None,
    **kw: Any,
) -> ImportReport:
    return import_legacy(
        conn,
        sample() if items is None else items,
        actor="ops",
        keyring=shared_keyring(),
        clock=lambda: NOW,
        **kw,
    )


def snapshot(conn: psycopg.Connection) -> dict[str, object]:
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
        for table in ("patients", "documents", "resources", "audit_log")
    }


def test_import_maps_every_status_and_accounts_for_every_record(conn: psycopg.Connection) -> None:
    report = run(conn)
    assert report.balanced and report.total_in == 16
    assert dict(report.imported) == {
        ("approved", "auto_approved"): 3,
        ("approved", "reviewed"): 3,
        ("pending", "pending"): 2,
        ("rejected", "rejected"): 2,
        ("flagged", "flagged"): 4,
    }
    assert report.awaiting_processing == 2 and report.already_present == []
    assert [(u.where, u.reason) for u in report.unmapped] == [
        ("line 14", "unknown status 'archived'"),
        (
            "line 15",
            "invalid record: patient_id: Field required; "
            "confidence: Input should be less than or equal to 1",
        ),
    ]
    assert report.generic_flag_reasons == 1
    count = conn.execute("SELECT count(*) FROM documents").fetchone()
    assert count == (14,)


@pytest.mark.parametrize(
    ("doc", "status", "merged", "processing", "resources", "reviewer"),
    [
        ("1001", "auto_approved", True, "COMPLETE", 3, None),
        ("1002", "reviewed", True, "COMPLETE", 2, "dr.patel"),
        ("1003", "reviewed", True, "COMPLETE", 3, "nurse.kim"),
        ("1004", "auto_approved", True, "COMPLETE", 3, None),
        ("1006", "pending", False, "PENDING", 0, None),
        ("1008", "rejected", False, "COMPLETE", 0, "dr.patel"),
        ("1010", "flagged", True, "COMPLETE", 1, None),
        ("1011", "flagged", True, "COMPLETE", 0, None),
    ],
)
def test_document_states(
    conn: psycopg.Connection,
    doc: str,
    status: str,
    merged: bool,
    processing: str,
    resources: int,
    reviewer: str | None,
) -> None:
    run(conn)
    state = document_state(conn, doc)
    assert state is not None
    assert state.review_status == status
    assert state.auto_approved is (status == "auto_approved")
    assert state.is_merged is merged and state.processing_status == processing
    assert state.resource_count == resources and state.reviewer == reviewer
    assert state.version == 1 and state.extraction_version == 1
    stored = conn.execute("SELECT count(*) FROM resources WHERE document_id = %s", (doc,))
    assert stored.fetchone() == (resources,)


def test_flag_reasons_and_fallback_are_stored(conn: psycopg.Connection) -> None:
    run(conn)
    state = document_state(conn, "1010")
    assert state is not None and state.is_fallback
    assert [r.rule for r in state.flag_reasons] == [
        "fallback_model",
        "few_resources_low_confidence",
    ]


def test_resources_are_stamped_like_a_merge(conn: psycopg.Connection) -> None:
    run(conn)
    rows = conn.execute(
        "SELECT resource_id, body FROM resources WHERE document_id = '1005'"
    ).fetchall()
    record = orjson.loads(SAMPLE.read_bytes().splitlines()[4])
    expected = resource_ids_for(
        "1005", record["fhir_resources"], patient_id=str(record["patient_id"])
    )
    assert sorted(r[0] for r in rows) == sorted(expected)
    bodies = {body["resourceType"]: body for _, body in rows}
    assert {b["meta"]["source"] for b in bodies.values()} == {"document_1005"}
    assert {b["meta"]["versionId"] for b in bodies.values()} == {"1"}
    encounter = bodies["Encounter"]["id"]
    assert bodies["Observation"]["encounter"]["reference"] == f"Encounter/{encounter}"


def test_one_audit_entry_per_imported_document(conn: psycopg.Connection) -> None:
    run(conn)
    rows = conn.execute(
        "SELECT document_id, actor_kind, actor, details FROM audit_log "
        "WHERE action = 'legacy_import' ORDER BY document_id"
    ).fetchall()
    assert len(rows) == 14
    assert {(kind, actor) for _, kind, actor, _ in rows} == {("operator", "ops")}
    details = {doc: d for doc, _, _, d in rows}
    assert details["1002"]["legacy_status"] == "approved"
    assert details["1002"]["review_status"] == "reviewed"
    assert details["1002"]["resources"] == {"Condition": 1, "Observation": 1}
    assert details["1008"]["resources"] == {}
    assert details["1008"]["resources_in_record"] == {"Condition": 1}
    assert verify_trail(conn).ok


def test_reimport_changes_nothing_and_counts_already_present(conn: psycopg.Connection) -> None:
    run(conn)
    before = snapshot(conn)
    again = run(conn)
    assert snapshot(conn) == before
    assert again.total_imported == 0 and len(again.already_present) == 14
    assert len(again.unmapped) == 2 and again.balanced


def test_dry_run_reports_the_same_and_writes_nothing(conn: psycopg.Connection) -> None:
    dry = run(conn, dry_run=True)
    assert all(not rows for rows in snapshot(conn).values())
    real = run(conn)
    assert (dry.imported, dry.resources, dry.unmapped) == (
        real.imported,
        real.resources,
        real.unmapped,
    )


def test_small_batches_give_the_same_result_and_report_progress(conn: psycopg.Connection) -> None:
    seen: list[int] = []
    report = run(conn, batch_size=3, progress=seen.append)
    assert seen == [3, 3, 3, 3, 3, 1] and report.total_imported == 14 and report.balanced


def test_documents_the_pipeline_already_stored_are_present_or_refused(
    conn: psycopg.Connection,
) -> None:
    merge(conn, [incoming(extraction("1001", P1))])
    merge(conn, [incoming(extraction("1003", "someone-else"))])
    report = run(conn)
    assert report.already_present == ["1001"] and report.balanced
    refused = [u for u in report.unmapped if u.document_id == "1003"]
    assert [u.reason for u in refused] == [
        "document already stored for patient 'someone-else', not "
        "'9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c62'"
    ]
    state = document_state(conn, "1001")
    assert state is not None and state.review_status == "auto_approved"  # the merge's, kept
    legacy = conn.execute("SELECT count(*) FROM audit_log WHERE action = 'legacy_import'")
    assert legacy.fetchone() == (12,)


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run_optimerge("import-legacy", *args, DATABASE_URL=database_url)


def test_cli_imports_reports_and_exits_1_for_unmapped_records(
    database_url: str, tmp_path: Path
) -> None:
    first = cli(database_url, str(SAMPLE))
    assert first.returncode == 1, first.stderr
    assert "line 14 (1014): unknown status 'archived'" in first.stdout
    assert "(awaiting processing)" in first.stdout
    assert "16 in = 14 imported + 0 already present + 2 unmapped" in first.stdout

    again = cli(database_url, str(SAMPLE), "--json")
    assert again.returncode == 1, again.stderr
    report = orjson.loads(again.stdout)
    assert (report["in"], report["imported"], report["already_present"]) == (16, 0, 14)
    assert report["balanced"] and report["unmapped"] == 2

    # A JSON array of only good records: nothing left out, exit 0.
    good = [orjson.loads(line) for line in SAMPLE.read_bytes().splitlines()[:13]]
    array = tmp_path / "legacy.json"
    array.write_bytes(orjson.dumps(good))
    done = cli(database_url, str(array), "--json")
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["already_present"] == 13
