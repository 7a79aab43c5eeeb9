"""Verdicts as labels: what reviewers did to an extraction says what its flags were worth."""

import uuid
from datetime import UTC, datetime

import pytest

from domain.merge_plan import StoredDocument
from domain.review_plan import plan_review
from domain.verdicts import Label, label_of, verdict_of
from schemas import FlagReason, FlagRule, ProcessingStatus, ReviewAction, ReviewStatus

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def stored(status: ReviewStatus, *rules: FlagRule) -> StoredDocument:
    return StoredDocument(
        document_id="d1",
        patient_id="p1",
        extraction_version=2,
        version=3,
        review_status=status,
        processing_status=ProcessingStatus.COMPLETE,
        is_merged=True,
        flag_reasons=tuple(FlagReason(rule=r, text="t") for r in rules),
        content_hash="abc",
        rule_set_version=4,
    )


def action(kind: str) -> ReviewAction:
    return ReviewAction.model_validate(
        {
            "document_id": "d1",
            "patient_id": "p1",
            "action": kind,
            "reviewer": "ana",
            "expected_version": 3,
            "corrected_resources": [{"resourceType": "Condition"}]
            if kind == "correct_data"
            else None,
        }
    )


@pytest.mark.parametrize(
    ("actions", "flagged", "label"),
    [
        (["mark_correct"], True, Label.FALSE_POSITIVE),
        (["correct_data"], True, Label.CORRECTED),
        (["rollback"], True, Label.REMOVED),
        (["correct_data"], False, Label.MISSED_CORRECTED),
        (["rollback"], False, Label.MISSED_REMOVED),
        (["mark_correct"], False, Label.CONFIRMED),
        # Marked correct, then corrected after all (or the other way round): the data was wrong.
        (["mark_correct", "correct_data"], True, Label.CORRECTED),
        (["correct_data", "mark_correct", "rollback"], True, Label.REMOVED),
        ([], True, None),
    ],
)
def test_the_label_of_an_extraction(actions, flagged, label):
    assert label_of(actions, flagged=flagged) == label
    if label is not None:
        assert label.was_flagged is flagged
        assert label.is_problem is (label not in (Label.FALSE_POSITIVE, Label.CONFIRMED))


def test_a_verdict_names_the_extraction_and_the_rules_the_reviewer_saw():
    doc = stored(ReviewStatus.FLAGGED, FlagRule.LOW_CONFIDENCE, FlagRule.MERGE_ERROR)
    decision = plan_review(action("mark_correct"), doc, NOW)
    verdict = verdict_of(decision, doc, NOW)
    assert (verdict.extraction_version, verdict.content_hash, verdict.document_version) == (
        2,
        "abc",
        3,
    )
    # merge_error says the merge failed once, not that the rules judged the extraction.
    assert verdict.rules == ("low_confidence",) and verdict.flagged
    assert verdict.rule_set_version == 4 and isinstance(verdict.action_id, uuid.UUID)


def test_a_verdict_on_an_auto_approved_document_is_on_no_rule():
    doc = stored(ReviewStatus.AUTO_APPROVED)
    verdict = verdict_of(plan_review(action("rollback"), doc, NOW), doc, NOW)
    assert not verdict.flagged and verdict.rules == ()
    assert label_of([verdict.action], flagged=verdict.flagged) == Label.MISSED_REMOVED
