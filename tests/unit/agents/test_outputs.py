"""Output events of a merge: status always; flagged when flagged; resolved when a flag went away."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson

from domain.merge_plan import MergeDecision, MergeOutcome
from domain.reports import IncomingExtraction, MergeReport
from pipeline.outputs import merge_outputs
from schemas import ExtractionResult, FlagReason, FlagRule, ReviewStatus
from streams.topics import Topics

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RESULT = ExtractionResult.model_validate(
    {
        "document_id": "d1",
        "patient_id": "p1",
        "extraction_version": 2,
        "uploaded_at": "2026-11-23T11:59:00Z",
        "extracted_at": "2026-11-23T11:59:30Z",
        "model": {"name": "extractor-large"},
        "confidence": 0.97,
        "resources": [{"resourceType": "Condition"}],
    }
)


def report(decision: MergeDecision) -> MergeReport:
    return MergeReport(
        decision, IncomingExtraction(RESULT, NOW), NOW, 3.0, decision.review_status, 1
    )


def kinds(decision: MergeDecision) -> list[tuple[str, str]]:
    topics = Topics()
    events = merge_outputs(topics, [report(decision)])
    return [
        (e.topic, orjson.loads(e.value).get("kind") or orjson.loads(e.value)["status"])
        for e in events
    ]


def test_a_flagged_merge_emits_status_and_a_flagged_item():
    reason = FlagReason(rule=FlagRule.LOW_CONFIDENCE, text="low")
    decision = MergeDecision(
        MergeOutcome.MERGED,
        "d1",
        "p1",
        review_status=ReviewStatus.FLAGGED,
        flag_reasons=(reason,),
        version=1,
    )
    assert kinds(decision) == [("document.status", "COMPLETE"), ("flagged.items", "flagged")]


def test_a_clean_newer_extraction_of_a_flagged_document_resolves_it():
    decision = MergeDecision(
        MergeOutcome.REMERGED,
        "d1",
        "p1",
        review_status=ReviewStatus.AUTO_APPROVED,
        version=3,
        previous_review_status=ReviewStatus.FLAGGED,
    )
    assert kinds(decision) == [("document.status", "COMPLETE"), ("flagged.items", "resolved")]


def test_a_redelivered_duplicate_emits_the_same_status_id_again():
    decision = MergeDecision(MergeOutcome.DUPLICATE, "d1", "p1", version=2)
    first = merge_outputs(Topics(), [report(decision)])
    again = merge_outputs(Topics(), [report(decision)])
    assert [orjson.loads(e.value)["event_id"] for e in first] == [
        orjson.loads(e.value)["event_id"] for e in again
    ]
