"""The pure review planner: expected_version, the three actions, and what each one changes."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.merge_plan import StoredDocument, StoredResource
from domain.review_plan import ReviewOutcome, plan_review
from schemas import ProcessingStatus, ReviewAction, ReviewStatus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RES = (
    StoredResource("r1", "Condition", 1, {"resourceType": "Condition", "id": "r1"}),
    StoredResource("r2", "Observation", 1, {"resourceType": "Observation", "id": "r2"}),
)


def stored(**kw) -> StoredDocument:
    values = {
        "document_id": "doc-1",
        "patient_id": "p-1",
        "extraction_version": 1,
        "version": 1,
        "review_status": ReviewStatus.FLAGGED,
        "processing_status": ProcessingStatus.COMPLETE,
        "is_merged": True,
        "resources": RES,
    }
    values.update(kw)
    return StoredDocument(**values)


def action(kind: str, expected: int = 1, **kw) -> ReviewAction:
    return ReviewAction(
        document_id="doc-1",
        patient_id="p-1",
        action=kind,
        reviewer="ana",
        expected_version=expected,
        **kw,
    )


def test_mark_correct_of_a_flagged_document_is_a_false_positive():
    decision = plan_review(action("mark_correct"), stored(), NOW)
    assert decision.outcome == ReviewOutcome.APPLIED
    assert decision.review_status == ReviewStatus.REVIEWED
    assert decision.version == 2
    assert decision.false_positive
    assert decision.changes is None


def test_stale_expected_version_is_a_conflict():
    decision = plan_review(action("mark_correct", expected=1), stored(version=3), NOW)
    assert decision.outcome == ReviewOutcome.CONFLICT
    assert "expected version 1, current version 3" in decision.reason


def test_rollback_removes_every_resource_of_the_document():
    decision = plan_review(action("rollback"), stored(), NOW)
    assert decision.review_status == ReviewStatus.REJECTED
    assert not decision.is_merged
    assert decision.changes is not None
    assert {r.resource_id for r in decision.changes.deleted} == {"r1", "r2"}
    assert not decision.changes.inserts


def test_rolled_back_document_refuses_further_actions():
    decision = plan_review(
        action("mark_correct", expected=2),
        stored(version=2, review_status=ReviewStatus.REJECTED, is_merged=False, resources=()),
        NOW,
    )
    assert decision.outcome == ReviewOutcome.CONFLICT


def test_correct_data_keeps_named_ids_and_replaces_the_rest():
    corrected = [
        {"resourceType": "Condition", "id": "r1", "code": {"text": "Fixed"}},
        {"resourceType": "AllergyIntolerance", "code": {"text": "Peanut"}},
    ]
    decision = plan_review(action("correct_data", corrected_resources=corrected), stored(), NOW)
    changes = decision.changes
    assert changes is not None
    assert [w.resource_id for w in changes.updates] == ["r1"]
    assert changes.updates[0].version_id == 2
    assert [w.resource_type for w in changes.inserts] == ["AllergyIntolerance"]
    assert [r.resource_id for r in changes.deleted] == ["r2"]
    assert decision.review_status == ReviewStatus.REVIEWED


def test_unknown_document_is_not_found():
    assert plan_review(action("rollback"), None, NOW).outcome == ReviewOutcome.NOT_FOUND
