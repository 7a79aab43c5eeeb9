"""The pipeline in process (tests/harness.py): the real worker and merge service on the real
PostgreSQL, records and outputs in memory. Ordering, failure isolation and outputs in
milliseconds; tests/integration/pipeline/test_one_document.py and the others keep proving
delivery and crash safety with worker processes on the real broker."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest

from domain.resources import resource_ids_for
from schemas import ActorKind, ReviewAction
from storage.db import connect
from storage.patients import import_patients
from storage.read import document_state
from tests.harness import Harness

from ..storage._factories import extraction

PATIENT = {
    "resourceType": "Patient",
    "id": "7d0f9b0e-2222-4b5c-9d0e-1f2a3b4c5d6e",
    "name": [{"use": "official", "family": "Smith", "given": ["John"]}],
    "birthDate": "1970-04-03",
}
PID = PATIENT["id"]


@pytest.fixture
def harness(database_url: str, worker_database_url: str) -> Iterator[Harness]:
    with connect(database_url) as conn:
        import_patients(conn, [PATIENT])
    h = Harness(database_url, worker_url=worker_database_url)
    yield h
    h.close()


def action(document_id: str, kind: str, version: int, **kw: object) -> ReviewAction:
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


def test_merges_and_reviews_of_one_batch_apply_in_arrival_order(harness: Harness) -> None:
    early = action("d1", "mark_correct", 1)  # before its document exists
    doc = extraction("d1", PID, confidence=0.5)  # flagged: low confidence
    mark = action("d1", "mark_correct", 1)
    harness.run(harness.action(early), harness.extraction(doc), harness.action(mark))

    assert [(s.document_id, s.outcome, s.version) for s in harness.statuses()] == [
        ("d1", "not_found", 0),
        ("d1", "merged", 1),
        ("d1", "applied", 2),
    ]
    assert [(f.kind, f.version) for f in harness.flagged()] == [("flagged", 1), ("resolved", 2)]
    with connect(harness.settings.migration_url) as conn:
        state = document_state(conn, "d1")
    assert state is not None and (state.review_status, state.reviewer) == ("reviewed", "ana")


def test_a_document_the_database_refuses_does_not_sink_its_batch(harness: Harness) -> None:
    bad = extraction("bad", PID)
    # Another patient's row already holds the id bad's first resource needs (a squatter
    # from before collision-proof ids): the database refuses bad on the primary key.
    harness.run(harness.extraction(extraction("squatter", "someone-else")))
    [needed, *_] = resource_ids_for("bad", bad.resources, patient_id=PID)
    with connect(harness.settings.migration_url) as conn:
        conn.execute(
            "UPDATE resources SET resource_id = %s WHERE resource_id = "
            "(SELECT min(resource_id) FROM resources WHERE document_id = 'squatter')",
            (needed,),
        )
    harness.sink.sent.clear()
    harness.run(
        harness.extraction(extraction("good-1", PID)),
        harness.extraction(bad),
        harness.extraction(extraction("good-2", PID)),
    )

    by_doc = {s.document_id: s for s in harness.statuses()}
    assert (by_doc["good-1"].status, by_doc["good-2"].status) == ("COMPLETE", "COMPLETE")
    assert by_doc["bad"].status == "FAILED"
    assert "UniqueViolation" in (by_doc["bad"].error or "")
    [letter] = harness.dead_letters()
    assert (letter.error_kind, letter.document_id) == ("merge_error", "bad")
    with connect(harness.settings.migration_url) as conn:
        state = document_state(conn, "bad")
    assert state is not None and state.processing_status == "FAILED"
    assert [r.rule for r in state.flag_reasons] == ["merge_error"]


def test_a_redelivered_batch_changes_nothing_and_sends_its_events_again_as_they_were(
    harness: Harness,
) -> None:
    records = [
        harness.extraction(extraction("d1", PID, confidence=0.5)),
        harness.extraction(extraction("d2", PID)),
    ]
    harness.run(*records)
    with connect(harness.settings.migration_url) as conn:
        before = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    first_flags = [f.event_id for f in harness.flagged()]

    harness.run(*records)  # the same offsets again, as after a crash before the ack

    with connect(harness.settings.migration_url) as conn:
        after = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    assert before == after == (2,)
    statuses = harness.statuses()
    # Each merge announced again as first sent (it may never have gone out), then the duplicate.
    outcomes = ["merged", "merged", "merged", "duplicate", "merged", "duplicate"]
    assert [s.outcome for s in statuses] == outcomes
    assert (statuses[2], statuses[4]) == (statuses[0], statuses[1])
    flagged = harness.flagged()
    assert {f.event_id for f in flagged} == set(first_flags)  # a consumer keeps one flag each
    assert flagged[len(first_flags) :] == flagged[: len(first_flags)]


def test_bad_input_is_dead_lettered_with_a_reason_and_the_rest_merges(harness: Harness) -> None:
    wrong_key = extraction("d-key", PID)
    harness.run(
        harness.extraction(b"{not json", key=PID.encode()),
        harness.extraction(wrong_key, key=b"someone-else"),
        harness.extraction(extraction("d-ok", PID)),
    )

    letters = harness.dead_letters()
    assert [letter.error_kind for letter in letters] == ["invalid_json", "schema"]
    assert "keyed by patient id" in letters[1].reason
    # The wrongly keyed event names a usable document: the refusal is recorded on it.
    assert [(s.document_id, s.status, s.outcome) for s in harness.statuses()] == [
        ("d-key", "FAILED", None),
        ("d-ok", "COMPLETE", "merged"),
    ]


def test_an_operators_rollback_is_applied_in_order_and_audited_as_theirs(
    harness: Harness,
) -> None:
    harness.run(harness.extraction(extraction("d1", PID, confidence=0.5)))
    rollback = action("d1", "rollback", 1, reviewer="ops-oncall", actor_kind=ActorKind.OPERATOR)
    harness.run(harness.action(rollback))

    status = harness.statuses()[-1]
    assert (status.action_id, status.outcome, status.review_status) == (
        rollback.action_id,
        "applied",
        "rejected",
    )
    resolved = harness.flagged()[-1]
    assert (resolved.kind, resolved.resolution, resolved.reviewer) == (
        "resolved",
        "rollback",
        "ops-oncall",
    )
    with connect(harness.settings.migration_url) as conn:
        entry = conn.execute(
            "SELECT actor_kind, actor, details FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        left = conn.execute("SELECT count(*) FROM resources").fetchone()
    assert entry is not None and entry[:2] == ("operator", "ops-oncall")
    assert entry[2]["resources_removed"] == 3 and left == (0,)


def test_the_worker_counts_what_it_did_and_reports_its_lag(harness: Harness) -> None:
    records = [harness.extraction(extraction(f"d{i}", PID, confidence=0.5)) for i in range(4)]
    harness.run(*records)
    harness.worker.set_lag({(records[0].topic, 0): 10})
    harness.worker.close()

    value = harness.registry.get_sample_value
    assert value("optimerge_documents_total", {"review_status": "flagged"}) == 4
    assert value("optimerge_flags_total", {"rule": "low_confidence"}) == 4
    assert value("optimerge_consumer_lag", {"topic": records[0].topic, "partition": "0"}) == 6
    [window] = harness.windows()
    assert (window.documents, window.flagged) == (4, 4)
    assert orjson.loads(harness.sink.sent[harness.topics.pipeline_metrics.name][0])["worker_id"]


def test_a_body_stored_from_the_event_text_is_the_stamped_resource(
    harness: Harness, database_url: str
) -> None:
    """The hot path stores each resource as its own text with our id and meta appended
    (domain/resource_text.py): PostgreSQL must read back what the stamped dict says, whatever
    layout the producer chose, its own meta members and exact decimals included."""
    resources = [
        {
            "resourceType": "Encounter",
            "id": "e-1",
            "meta": {"tag": [{"code": "t"}]},
            "text": {"div": 'a\\b \t "c"\n'},  # escapes in the stored text itself
        },
        {
            "resourceType": "Observation",
            "id": "o-1",
            "meta": {"source": "theirs", "profile": ["http://x/p"]},
            "encounter": {"reference": "urn:uuid:e-1"},
            "subject": {"reference": f"Patient/{PID}"},
            "valueQuantity": {"value": "0.010"},
            "note": [{"text": 'tab\there, "quoted" \\ back'}],
        },
    ]
    event = extraction("d-text", PID).model_dump(mode="json")
    event["resources"] = resources
    event["resources"][1]["valueQuantity"]["value"] = orjson.Fragment(b"0.010")
    spaced = orjson.dumps(event, option=orjson.OPT_INDENT_2)  # another producer's layout
    harness.run(harness.extraction(spaced, key=PID.encode()))
    assert [d.reason for d in harness.dead_letters()] == []

    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT body::text FROM resources WHERE document_id = 'd-text' ORDER BY resource_type"
        ).fetchall()
    encounter, observation = (orjson.loads(r[0]) for r in rows)
    ids = resource_ids_for("d-text", [dict(r) for r in resources], patient_id=PID)
    assert encounter["id"] == ids[0]
    assert encounter["meta"]["tag"] == [{"code": "t"}]
    assert encounter["text"] == {"div": 'a\\b \t "c"\n'}
    assert observation["meta"]["profile"] == ["http://x/p"]
    assert observation["meta"]["source"] == "document_d-text"
    assert observation["meta"]["versionId"] == "1"
    assert observation["encounter"] == {"reference": f"Encounter/{ids[0]}"}
    assert observation["note"] == [{"text": 'tab\there, "quoted" \\ back'}]
    assert '"value": 0.010' in rows[1][0]  # the decimal as sent
