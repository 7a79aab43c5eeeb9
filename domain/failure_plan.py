"""What recording a failed merge does (the pure half): a document that could not be merged is
flagged `merge_error` and keeps its last good resources (docs/contract.md#merge-semantics)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.merge_plan import StoredDocument
from domain.reports import FailedEvent
from schemas import FlagReason, FlagRule, ProcessingStatus


class FailureOutcome(StrEnum):
    RECORDED = "recorded"
    # The document belongs to another patient: its state is not this event's to change.
    FOREIGN = "foreign"
    # The same failure redelivered: recorded and audited already.
    REPEATED = "repeated"


@dataclass(frozen=True, slots=True)
class FailureDecision:
    outcome: FailureOutcome
    version: int
    flag_reasons: tuple[FlagReason, ...] = ()
    # No stored document: a row is created for it (FAILED, not merged).
    is_new: bool = False
    # Attempts the stored row has once this failure is counted.
    attempts: int = 1

    @property
    def writes(self) -> bool:
        return self.outcome == FailureOutcome.RECORDED


def merge_error_reason(error: str) -> FlagReason:
    return FlagReason(rule=FlagRule.MERGE_ERROR, text=f"Merge failed: {error}")


def plan_failure(item: FailedEvent, stored: StoredDocument | None, error: str) -> FailureDecision:
    if stored is None:
        return FailureDecision(
            FailureOutcome.RECORDED,
            version=1,
            flag_reasons=(merge_error_reason(error),),
            is_new=True,
            attempts=item.attempts,
        )
    if stored.patient_id != item.patient_id:
        return FailureDecision(FailureOutcome.FOREIGN, version=stored.version)
    failed_before = stored.processing_status == ProcessingStatus.FAILED
    if failed_before and stored.content_hash == item.content_hash():
        return FailureDecision(FailureOutcome.REPEATED, version=stored.version)
    kept = tuple(r for r in stored.flag_reasons if r.rule != FlagRule.MERGE_ERROR)
    return FailureDecision(
        FailureOutcome.RECORDED,
        version=stored.version + 1,
        flag_reasons=(*kept, merge_error_reason(error)),
        attempts=stored.attempts + item.attempts,
    )
