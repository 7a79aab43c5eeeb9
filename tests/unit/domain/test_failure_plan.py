"""What recording a failed merge decides, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.failure_plan import FailureOutcome, plan_failure
from domain.merge_plan import StoredDocument
from domain.reports import IncomingExtraction
from schemas import ExtractionResult, FlagReason, FlagRule, ProcessingStatus, ReviewStatus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
RESULT = ExtractionResult(
    document_id="d1",
    patient_id="p1",
    uploaded_at=NOW,
    extracted_at=NOW,
    model={"name": "m"},
    confidence=0.9,
)
ITEM = IncomingExtraction(RESULT, NOW, raw=RESULT.model_dump_json().encode())


def stored(**changes: object) -> StoredDocument:
    fields: dict[str, object] = {
        "document_id": "d1",
        "patient_id": "p1",
        "extraction_version": 1,
        "version": 3,
        "review_status": ReviewStatus.AUTO_APPROVED,
        "processing_status": ProcessingStatus.COMPLETE,
        "is_merged": True,
        "attempts": 2,
    }
    fields.update(changes)
    return StoredDocument(**fields)  # type: ignore[arg-type]


def test_a_first_failure_creates_a_flagged_document() -> None:
    decision = plan_failure(ITEM, None, "boom")
    assert (decision.outcome, decision.version, decision.is_new) == (
        FailureOutcome.RECORDED,
        1,
        True,
    )
    assert [r.rule for r in decision.flag_reasons] == [FlagRule.MERGE_ERROR]


def test_a_merged_document_keeps_its_other_reasons_and_counts_the_attempt() -> None:
    earlier = (
        FlagReason(rule=FlagRule.LOW_CONFIDENCE, text="low"),
        FlagReason(rule=FlagRule.MERGE_ERROR, text="Merge failed: before"),
    )
    decision = plan_failure(ITEM, stored(flag_reasons=earlier), "boom")
    assert (decision.version, decision.attempts, decision.is_new) == (4, 3, False)
    assert [r.text for r in decision.flag_reasons] == ["low", "Merge failed: boom"]


def test_another_patients_document_is_left_alone() -> None:
    decision = plan_failure(ITEM, stored(patient_id="someone-else"), "boom")
    assert (decision.outcome, decision.writes, decision.version) == (
        FailureOutcome.FOREIGN,
        False,
        3,
    )


def test_the_same_failure_redelivered_is_recorded_once() -> None:
    again = stored(processing_status=ProcessingStatus.FAILED, content_hash=ITEM.content_hash())
    assert plan_failure(ITEM, again, "boom").outcome == FailureOutcome.REPEATED
    changed = stored(processing_status=ProcessingStatus.FAILED, content_hash="other")
    assert plan_failure(ITEM, changed, "boom").outcome == FailureOutcome.RECORDED
