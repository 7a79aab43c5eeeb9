"""A redelivered event emits the events it emitted the first time, byte for byte: a duplicate
of the very extraction that made the stored state announces its merge again (the first outputs
may never have gone out: a commit in doubt, a worker killed before publishing), and a replayed
review action answers with its first decision and time."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from domain.merge_plan import LastMerge, MergeOutcome, StoredDocument, last_merge_of, plan_merge
from domain.reports import IncomingExtraction, MergeReport, ReviewReport
from domain.review_plan import ReviewOutcome, plan_review, replayed
from pipeline.outputs import merge_outputs, review_outputs
from schemas import (
    ExtractionResult,
    FlagReason,
    FlagRule,
    ProcessingStatus,
    ReviewAction,
    ReviewStatus,
)
from streams.topics import Topics
from tests.unit.domain.test_merge_plan import extraction

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOPICS = Topics("t.")
REASON = FlagReason(rule=FlagRule.LOW_CONFIDENCE, text="confidence 0.93 below 0.95")


def _first_merge() -> tuple[MergeReport, StoredDocument]:
    result = extraction()
    incoming = IncomingExtraction(result, received_at=NOW - timedelta(seconds=1))
    decision = plan_merge(result, None, [REASON], NOW)
    report = MergeReport(decision, incoming, NOW, 12.5, decision.review_status, 3)
    stored = StoredDocument(
        document_id="doc-1",
        patient_id="p-1",
        extraction_version=1,
        version=1,
        review_status=ReviewStatus.FLAGGED,
        processing_status=ProcessingStatus.COMPLETE,
        is_merged=True,
        flag_reasons=(REASON,),
        last_merge=LastMerge(result.event_id, NOW, incoming.received_at, 12.5),
    )
    return report, stored


def _redelivered(stored: StoredDocument, result: ExtractionResult) -> MergeReport:
    incoming = IncomingExtraction(result, received_at=NOW + timedelta(seconds=30))
    decision = plan_merge(result, stored, [REASON], NOW + timedelta(seconds=30))
    return MergeReport(decision, incoming, None, 3.0, decision.review_status, 0)


def test_a_redelivered_merge_sends_its_first_events_again_and_says_duplicate() -> None:
    first, stored = _first_merge()
    again = _redelivered(stored, first.incoming.result)
    assert again.decision.outcome == MergeOutcome.DUPLICATE
    sent_first = merge_outputs(TOPICS, [first])
    sent_again = merge_outputs(TOPICS, [again])
    assert [o.topic for o in sent_first] == ["t.document.status", "t.flagged.items"]
    assert sent_again[:2] == sent_first
    [duplicate] = sent_again[2:]
    assert b'"outcome":"duplicate"' in duplicate.value


def test_another_event_of_the_same_version_is_only_a_duplicate() -> None:
    first, stored = _first_merge()
    other = first.incoming.result.model_copy(update={"event_id": uuid.uuid4()})
    sent = merge_outputs(TOPICS, [_redelivered(stored, other)])
    assert len(sent) == 1 and b'"outcome":"duplicate"' in sent[0].value


def test_a_merge_is_announced_again_only_while_nothing_changed_the_document_since() -> None:
    facts = {
        "event_id": uuid.uuid4(),
        "is_merged": True,
        "processing_status": ProcessingStatus.COMPLETE,
        "merged_at": NOW,
        "received_at": NOW,
        "processing_ms": 1.0,
    }
    assert last_merge_of(**facts, changed_at=(None, NOW - timedelta(seconds=1))) is not None
    assert last_merge_of(**facts, changed_at=(NOW + timedelta(seconds=1), None)) is None
    assert last_merge_of(**{**facts, "is_merged": False}, changed_at=()) is None


def test_a_replayed_review_action_answers_with_its_first_decision_and_time() -> None:
    _, stored = _first_merge()
    action = ReviewAction(
        action_id=uuid.uuid4(),
        document_id="doc-1",
        patient_id="p-1",
        action="mark_correct",
        reviewer="r",
        expected_version=1,
    )
    decided = plan_review(action, stored, NOW)
    first = review_outputs(TOPICS, [ReviewReport(decided, decided_at=NOW)], NOW)
    remembered = replayed(action, ReviewOutcome.APPLIED, "", decided.version)
    later = NOW + timedelta(minutes=5)
    again = review_outputs(TOPICS, [ReviewReport(remembered, replayed=True, decided_at=NOW)], later)
    assert len(first) == 2 and again == first
