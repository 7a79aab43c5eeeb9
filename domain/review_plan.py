"""What a reviewer's action does to a document: the pure half of review actions.

Every action carries the document version the reviewer saw; a stale one is refused with a
conflict instead of being applied over changes the reviewer never looked at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.merge_plan import ResourceChanges, StoredDocument, plan_resource_changes
from domain.resources import correction_ids_for
from schemas import ReviewAction, ReviewActionKind, ReviewStatus


class ReviewOutcome(StrEnum):
    APPLIED = "applied"
    CONFLICT = "conflict"
    NOT_FOUND = "not_found"
    # Refused whole: it breaks the input contract, or the database would not take it.
    INVALID = "invalid"


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    outcome: ReviewOutcome
    action: ReviewAction
    reason: str = ""
    review_status: ReviewStatus | None = None
    version: int = 0
    is_merged: bool = True
    changes: ResourceChanges | None = None
    # Flagged, then marked correct with nothing changed: a false positive of the flag rules.
    false_positive: bool = False

    @property
    def writes(self) -> bool:
        return self.outcome == ReviewOutcome.APPLIED


# Fixed and free of anything the action says: they go on document.status for anyone to read.
REFUSED_AT_INPUT = (
    "the action was refused: it does not meet the input contract (see the dead letter)"
)
REFUSED_BY_DATABASE = "the action was refused: it could not be applied (see the dead letter)"


def status_after(action: ReviewAction, outcome: ReviewOutcome) -> ReviewStatus | None:
    """The review status an action left its document in (None: it changed nothing), as
    `plan_review` decides it: a rollback rejects, every other applied action reviews."""
    if outcome != ReviewOutcome.APPLIED:
        return None
    if action.action == ReviewActionKind.ROLLBACK:
        return ReviewStatus.REJECTED
    return ReviewStatus.REVIEWED


def replayed(
    action: ReviewAction, outcome: ReviewOutcome, reason: str, version: int
) -> ReviewDecision:
    """The decision remembered for a redelivered action_id, as it was first made (so its
    outputs are the same events, docs/contract.md#merge-semantics)."""
    return ReviewDecision(
        outcome,
        action,
        reason=reason,
        review_status=status_after(action, outcome),
        version=version,
        is_merged=not (
            outcome == ReviewOutcome.APPLIED and action.action == ReviewActionKind.ROLLBACK
        ),
    )


def invalid(action: ReviewAction, version: int, reason: str) -> ReviewDecision:
    return ReviewDecision(ReviewOutcome.INVALID, action, reason=reason, version=version)


def _conflict(action: ReviewAction, stored: StoredDocument, reason: str) -> ReviewDecision:
    return ReviewDecision(ReviewOutcome.CONFLICT, action, reason=reason, version=stored.version)


def plan_review(
    action: ReviewAction, stored: StoredDocument | None, now: datetime
) -> ReviewDecision:
    if stored is None:
        return ReviewDecision(
            ReviewOutcome.NOT_FOUND, action, reason=f"document {action.document_id} does not exist"
        )
    if stored.patient_id != action.patient_id:
        return _conflict(
            action,
            stored,
            f"document {action.document_id} belongs to patient {stored.patient_id}, "
            f"not {action.patient_id}",
        )
    if action.expected_version != stored.version:
        return _conflict(
            action,
            stored,
            f"document changed since it was reviewed: expected version "
            f"{action.expected_version}, current version {stored.version}",
        )
    if stored.review_status == ReviewStatus.REJECTED:
        return _conflict(action, stored, "document was already removed from the record")
    if not stored.is_merged:
        return _conflict(action, stored, "document is not merged (its merge failed)")
    version = stored.version + 1
    if action.action == ReviewActionKind.MARK_CORRECT:
        return ReviewDecision(
            ReviewOutcome.APPLIED,
            action,
            review_status=status_after(action, ReviewOutcome.APPLIED),
            version=version,
            false_positive=stored.review_status == ReviewStatus.FLAGGED,
        )
    if action.action == ReviewActionKind.ROLLBACK:
        changes = plan_resource_changes(
            document_id=stored.document_id,
            new_resources=(),
            new_ids=(),
            stored=stored.resources,
            now=now,
        )
        return ReviewDecision(
            ReviewOutcome.APPLIED,
            action,
            review_status=status_after(action, ReviewOutcome.APPLIED),
            version=version,
            is_merged=False,
            changes=changes,
        )
    corrected = action.corrected_resources
    if corrected is None:
        return _conflict(action, stored, "correct_data needs corrected_resources")
    ids = correction_ids_for(
        stored.patient_id,
        stored.document_id,
        version,
        corrected,
        (r.resource_id for r in stored.resources),
    )
    changes = plan_resource_changes(
        document_id=stored.document_id,
        new_resources=corrected,
        new_ids=ids,
        stored=stored.resources,
        now=now,
        retired_versions=stored.retired_versions,
    )
    return ReviewDecision(
        ReviewOutcome.APPLIED,
        action,
        review_status=status_after(action, ReviewOutcome.APPLIED),
        version=version,
        changes=changes,
    )
