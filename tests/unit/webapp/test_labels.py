"""Every code the app can meet has a label a person reads: a new enum member without one fails."""

from __future__ import annotations

from domain.audit import AuditAction
from schemas import FlagRule, MatchKind, ReviewActionKind, ReviewStatus
from webapp import present


def test_every_flag_rule_has_a_label_and_a_category() -> None:
    assert set(present.REASONS) == set(FlagRule)
    assert all(label and category for label, category in present.REASONS.values())


def test_every_review_status_action_and_audit_action_has_a_label() -> None:
    assert set(present.REVIEW_STATUS_LABELS) == set(ReviewStatus)
    assert set(present.ACTION_LABELS) == set(ReviewActionKind)
    assert set(present.AUDIT_ACTION_LABELS) == set(AuditAction)


def test_every_kind_of_identity_evidence_has_a_label() -> None:
    assert set(present.MATCHES) == set(MatchKind)


def test_a_code_from_a_newer_version_still_reads_as_words() -> None:
    assert present.reason_label("some_new_rule") == "Some new rule"
    assert present.status_label("archived") == "Archived"
    assert present.audit_action_label("legacy_import") == "Legacy import"
