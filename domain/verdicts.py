"""Reviewers' verdicts as labels of the flag rules (docs/contract.md#rule-sets).

Every applied review action is a verdict on the extraction the reviewer saw, stored with the
rules that had fired on it. Per extraction the verdicts make one label: corrected or removed
means a true problem (missed, when the rules had auto-approved it); marked correct with nothing
changed means a false positive of every rule that fired (or, on an auto-approved document, a
confirmation). A correction outweighs a mark_correct before or after it: the data was wrong.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from domain.merge_plan import StoredDocument
from domain.review_plan import ReviewDecision
from schemas import FlagRule, ReviewActionKind

NOT_A_JUDGEMENT = frozenset({FlagRule.MERGE_ERROR.value})


class Label(StrEnum):
    FALSE_POSITIVE = "false_positive"  # flagged, then marked correct with nothing changed
    CORRECTED = "corrected"  # flagged, then corrected: a true problem
    REMOVED = "removed"  # flagged, then removed from the record: a true problem
    MISSED_CORRECTED = "missed_corrected"  # auto-approved, later corrected: a missed problem
    MISSED_REMOVED = "missed_removed"  # auto-approved, later removed: a missed problem
    CONFIRMED = "confirmed"  # auto-approved, and a person marked it correct

    @property
    def is_problem(self) -> bool:
        return self not in (Label.FALSE_POSITIVE, Label.CONFIRMED)

    @property
    def was_flagged(self) -> bool:
        return self in (Label.FALSE_POSITIVE, Label.CORRECTED, Label.REMOVED)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One applied review action, on the extraction it judged."""

    action_id: uuid.UUID
    document_id: str
    patient_id: str
    extraction_version: int
    content_hash: str | None
    document_version: int
    rule_set_version: int | None
    flagged: bool
    rules: tuple[str, ...]
    action: ReviewActionKind
    actor_kind: str
    reviewer: str
    decided_at: datetime


def verdict_of(decision: ReviewDecision, reviewed: StoredDocument, now: datetime) -> Verdict:
    """The verdict of an applied action on the document as it was stored before it."""
    action = decision.action
    rules = tuple(r.rule.value for r in reviewed.flag_reasons if r.rule not in NOT_A_JUDGEMENT)
    return Verdict(
        action_id=action.action_id,
        document_id=reviewed.document_id,
        patient_id=reviewed.patient_id,
        extraction_version=reviewed.extraction_version,
        content_hash=reviewed.content_hash,
        document_version=action.expected_version,
        rule_set_version=reviewed.rule_set_version,
        flagged=bool(rules),
        rules=rules,
        action=action.action,
        actor_kind=str(action.actor_kind),
        reviewer=action.reviewer,
        decided_at=now,
    )


def label_of(actions: Iterable[str], *, flagged: bool) -> Label | None:
    """The label of one extraction from the actions applied to it (None: no verdict)."""
    kinds = set(actions)
    if ReviewActionKind.ROLLBACK in kinds:
        return Label.REMOVED if flagged else Label.MISSED_REMOVED
    if ReviewActionKind.CORRECT_DATA in kinds:
        return Label.CORRECTED if flagged else Label.MISSED_CORRECTED
    if ReviewActionKind.MARK_CORRECT in kinds:
        return Label.FALSE_POSITIVE if flagged else Label.CONFIRMED
    return None
