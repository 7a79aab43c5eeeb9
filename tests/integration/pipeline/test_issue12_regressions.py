"""Regression tests, one per trigger of issue 12, in the in-process harness (real worker code,
real PostgreSQL): each event is refused or dead-lettered with its reason, or stored and read back
intact, and the next event of the same partition is merged in the same pass."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from domain.resources import correction_ids_for
from domain.review_plan import REFUSED_AT_INPUT, REFUSED_BY_DATABASE
from pipeline.letters import PAYLOAD_LIMIT
from schemas import ReviewAction
from schemas.exact_json import dumps_exact
from storage.db import connect
from storage.patients import import_patients
from storage.read import document_extraction, document_resources, document_state
from streams.topics import MAX_MESSAGE_BYTES
from tests.audit_helpers import verify_trail
from tests.harness import Harness
from tests.unit.pipeline._grammar import valid_extraction

PID = "7d0f9b0e-2222-4b5c-9d0e-1f2a3b4c5d6e"
PATIENT = {
    "resourceType": "Patient",
    "id": PID,
    "name": [{"use": "official", "family": "Fuzz", "given": ["Test"]}],
    "birthDate": "1970-04-03",
}


@pytest.fixture
def harness(database_url: str, worker_database_url: str) -> Iterator[Harness]:
    with connect(database_url) as conn:
        import_patients(conn, [PATIENT])
    h = Harness(database_url, worker_url=worker_database_url)
    yield h
    h.close()


def doc(document_id: str, **changes: Any) -> dict[str, Any]:
    return {**valid_extraction(document_id, PID), **changes}


def action(document_id: str, kind: str, version: int, **kw: Any) -> ReviewAction:
    return ReviewAction.model_validate(
        {
            "document_id": document_id,
            "patient_id": PID,
            "action": kind,
            "reviewer": "ana",
            "expected_version": version,
            **kw,
        }
    )


def merged_next(harness: Harness, document_id: str) -> None:
    """The next event of the same patient (so the same partition) is merged."""
    harness.run(harness.extraction(doc(document_id)))
    with connect(harness.settings.migration_url) as conn:
        state = document_state(conn, document_id)
    assert state is not None and state.processing_status == "COMPLETE"


def state_of(harness: Harness, document_id: str):
    with connect(harness.settings.migration_url) as conn:
        return document_state(conn, document_id)


def status_of(harness: Harness, act: ReviewAction):
    return [s for s in harness.statuses() if s.action_id == act.action_id]


def test_nul_in_a_note_is_refused_as_invalid_and_answered_the_same_on_redelivery(harness):
    harness.run(harness.extraction(doc("d1")))
    bad = action("d1", "mark_correct", 1, note="pasted from a PDF\x00")
    record = harness.action(bad)
    harness.run(record)
    harness.run(record)  # redelivered: the same answer, nothing applied
    answers = status_of(harness, bad)
    assert [(s.outcome, s.reason, s.conflict) for s in answers] == [
        ("invalid", REFUSED_AT_INPUT, True)
    ] * 2
    assert answers[0].event_id == answers[1].event_id
    [letter, _] = harness.dead_letters()
    assert letter.error_kind == "schema" and "note: a string holds NUL" in letter.reason
    with connect(harness.settings.migration_url) as conn:
        row = conn.execute(
            "SELECT outcome FROM review_actions WHERE action_id = %s", (bad.action_id,)
        ).fetchone()
    assert row == ("invalid",)
    assert state_of(harness, "d1").version == 1
    merged_next(harness, "d2")


def test_nul_in_corrected_json_is_refused(harness):
    harness.run(harness.extraction(doc("d1")))
    bad = action(
        "d1",
        "correct_data",
        1,
        corrected_resources=[{"resourceType": "Condition", "code": {"text": "a\x00b"}}],
    )
    harness.run(harness.action(bad))
    assert [s.outcome for s in status_of(harness, bad)] == ["invalid"]
    assert "corrected_resources.0.code.text" in harness.dead_letters()[0].reason
    merged_next(harness, "d2")


def test_a_squatted_correction_id_is_refused_alone_and_the_chain_stays_whole(harness):
    harness.run(harness.extraction(doc("d1")))
    # Another patient's row holds the id d1's corrected resource will get (a squatter).
    harness.run(harness.extraction(valid_extraction("squat", "someone-else"), key=b"someone-else"))
    [needed] = correction_ids_for(PID, "d1", 2, [{"resourceType": "Condition"}], ())
    with connect(harness.settings.migration_url) as conn:
        conn.execute(
            "UPDATE resources SET resource_id = %s WHERE resource_id = "
            "(SELECT min(resource_id) FROM resources WHERE document_id = 'squat')",
            (needed,),
        )
    bad = action("d1", "correct_data", 1, corrected_resources=[{"resourceType": "Condition"}])
    good = action("d1", "mark_correct", 1)
    harness.run(harness.action(bad), harness.action(good))
    assert [(s.outcome, s.reason) for s in status_of(harness, bad)] == [
        ("invalid", REFUSED_BY_DATABASE)
    ]
    assert [s.outcome for s in status_of(harness, good)] == ["applied"]
    [letter] = [x for x in harness.dead_letters() if x.error_kind == "action_error"]
    assert "UniqueViolation" in letter.reason and letter.document_id == "d1"
    with connect(harness.settings.migration_url) as conn:
        assert verify_trail(conn).ok
    merged_next(harness, "d2")


def deep_bytes(document_id: str, levels: int, *, key: str = "resources") -> bytes:
    base = dumps_exact(doc(document_id))
    inner = b'{"x":[' * levels + b'"leaf"' + b"]}" * levels
    marker = b'"resources":[{'
    return base.replace(marker, marker + b'"extension":' + inner + b",", 1)


def test_a_300_level_extraction_is_refused_and_traced_on_its_document(harness):
    harness.run(harness.extraction(deep_bytes("deep", 300), key=PID.encode()))
    [letter] = harness.dead_letters()
    assert letter.error_kind == "schema" and "nested deeper than" in letter.reason
    state = state_of(harness, "deep")
    assert state is not None and state.processing_status == "FAILED"
    assert [r.rule for r in state.flag_reasons] == ["merge_error"]
    merged_next(harness, "d2")


def test_a_300_level_correction_is_refused(harness):
    harness.run(harness.extraction(doc("d1")))
    deep: Any = "leaf"
    for _ in range(300):
        deep = {"x": [deep]}
    raw = dumps_exact(action("d1", "mark_correct", 1).model_dump(mode="python"))
    inner = b'{"x":[' * 300 + b'"leaf"' + b"]}" * 300
    raw = raw.replace(b'"corrected_resources":null', b'"corrected_resources":[' + inner + b"]")
    harness.run(harness.record(harness.topics.review_actions.name, raw, key=PID.encode()))
    [letter] = harness.dead_letters()
    assert letter.error_kind in ("schema", "invalid_json")
    merged_next(harness, "d2")


def test_a_1_5_mb_invalid_payload_gives_a_letter_that_fits(harness):
    harness.run(harness.extraction(b"\x00" * 1_500_000, key=PID.encode()))
    [raw_letter] = harness.sink.sent[harness.topics.dlq.name]
    assert len(raw_letter) < PAYLOAD_LIMIT < MAX_MESSAGE_BYTES
    [letter] = harness.dead_letters()
    assert (letter.error_kind, letter.payload_truncated, letter.payload_bytes) == (
        "invalid_json",
        True,
        1_500_000,
    )
    merged_next(harness, "d2")


def test_a_year_9999_timestamp_is_refused_and_traced(harness):
    harness.run(harness.extraction(doc("late", uploaded_at="9999-12-31T23:59:59-14:00")))
    [letter] = harness.dead_letters()
    assert "outside the years 1900-2199" in letter.reason
    assert state_of(harness, "late").processing_status == "FAILED"
    merged_next(harness, "d2")


def test_stored_timestamps_past_year_9999_still_read_back(harness):
    harness.run(harness.extraction(doc("d1", confidence=0.5)))
    with connect(harness.settings.migration_url) as conn:
        conn.execute(
            "UPDATE documents SET uploaded_at = '9999-12-31T23:59:59-14:00' "
            "WHERE document_id = 'd1'"
        )
    state = state_of(harness, "d1")
    assert state is not None and state.uploaded_at is not None
    assert state.uploaded_at.year == 9999


def test_decimals_keep_their_precision_through_storage(harness):
    values = ["0.010", "1.50", "12345678901234567890.123456789", "123456789012345678901234567890"]
    resources = [
        {"resourceType": "Observation", "id": f"o{i}", "valueQuantity": {"value": Decimal(v)}}
        for i, v in enumerate(values)
    ]
    harness.run(harness.extraction(dumps_exact(doc("dec", resources=resources)), key=PID.encode()))
    with connect(harness.settings.migration_url) as conn:
        stored = document_resources(conn, "dec")
        # Stored compressed as received since migration 0009 (storage/extraction_blob.py).
        extraction = dumps_exact(document_extraction(conn, "dec")).decode()
    shown = {r["id"]: dumps_exact(r["valueQuantity"]["value"]).decode() for r in stored}
    assert sorted(shown.values()) == sorted(values)
    assert all(f'"value":{v}' in extraction for v in values)
    # A re-merge of the same content is a no-op for every resource (same text, same version).
    harness.run(
        harness.extraction(
            dumps_exact(doc("dec", resources=resources, extraction_version=2)), key=PID.encode()
        )
    )
    assert [r.outcome for r in harness.statuses()][-1] == "remerged"
    with connect(harness.settings.migration_url) as conn:
        versions = conn.execute(
            "SELECT DISTINCT version_id FROM resources WHERE document_id = 'dec'"
        ).fetchall()
    assert versions == [(1,)]


def test_an_extraction_version_of_2_31_is_refused_and_traced(harness):
    harness.run(harness.extraction(doc("big", extraction_version=2**31)))
    state = state_of(harness, "big")
    assert state is not None and state.processing_status == "FAILED"
    assert "extraction_version" in (state.error or "")
    merged_next(harness, "big")  # a valid version of it merges the document


def test_nul_in_the_model_name_traces_nul_in_the_document_id_cannot(harness):
    harness.run(
        harness.extraction(doc("model-nul", model={"name": "extractor\x00"})),
        harness.extraction(doc("id-nul\x00")),
    )
    assert state_of(harness, "model-nul").processing_status == "FAILED"
    with connect(harness.settings.migration_url) as conn:
        count = conn.execute("SELECT count(*) FROM documents").fetchone()
    assert count == (1,)  # the NUL-named one is unusable as an id: its dead letter says why
    assert len(harness.dead_letters()) == 2
    merged_next(harness, "d2")


def test_a_null_key_is_refused_and_traced(harness):
    harness.run(harness.extraction(orjson.dumps(doc("nokey")), key=None))
    [letter] = harness.dead_letters()
    assert "no key" in letter.reason
    assert state_of(harness, "nokey").processing_status == "FAILED"


def test_references_to_another_patients_data_flag_the_document(harness):
    harness.run(harness.extraction(valid_extraction("theirs", "someone-else"), key=b"someone-else"))
    with connect(harness.settings.migration_url) as conn:
        [(theirs,)] = conn.execute(
            "SELECT resource_id FROM resources WHERE document_id = 'theirs' LIMIT 1"
        ).fetchall()
    resources = [
        {"resourceType": "Observation", "subject": {"reference": f"Patient/{PID}"}},
        {"resourceType": "Observation", "focus": [{"reference": f"Condition/{theirs}"}]},
        {"resourceType": "Observation", "subject": {"reference": "Patient/someone-else"}},
    ]
    harness.run(harness.extraction(doc("mine", resources=resources)))
    state = state_of(harness, "mine")
    assert state is not None and state.processing_status == "COMPLETE"
    [reason] = [r for r in state.flag_reasons if r.rule == "foreign_reference"]
    assert f"Condition/{theirs}" in reason.text and "Patient/someone-else" in reason.text
    # Kept as written, never followed.
    with connect(harness.settings.migration_url) as conn:
        bodies = document_resources(conn, "mine")
    assert any(b.get("subject", {}).get("reference") == "Patient/someone-else" for b in bodies)


def test_an_event_that_keeps_failing_is_set_aside_as_stuck(harness, monkeypatch):
    records = [harness.extraction(doc(f"s{i}")) for i in range(6)]
    poison = records[3].offset
    process = harness.worker.processor.process

    def failing(batch):
        if any(r.offset == poison for r in batch):
            raise RuntimeError("a bug no stage contains")
        return process(batch)

    monkeypatch.setattr(harness.worker.processor, "process", failing)
    harness.worker.handle_until_done(records)
    [letter] = harness.dead_letters()
    assert (letter.error_kind, letter.source_offset) == ("stuck", poison)
    assert "failed 5 times" in letter.reason
    merged = {s.document_id for s in harness.statuses() if s.outcome == "merged"}
    assert merged == {"s0", "s1", "s2", "s4", "s5"}
