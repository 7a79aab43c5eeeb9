"""How things read on the page: labels, ages and their colours, summaries, outcomes (pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from domain.audit import AuditAction
from domain.names import display_name
from schemas import FlagRule, MatchKind, ReviewActionKind, ReviewStatus

AgeBand = Literal["ok", "warn", "overdue"]
ReasonCategory = Literal["identity", "quality", "error"]

# Identity problems (is this the right patient?) weigh more than extraction quality doubts.
REASONS: dict[FlagRule, tuple[str, ReasonCategory]] = {
    FlagRule.UNKNOWN_PATIENT: ("Unknown patient", "identity"),
    FlagRule.NO_IDENTITY: ("No name or birth date", "identity"),
    FlagRule.NAME_MISMATCH: ("Name differs", "identity"),
    FlagRule.BIRTH_DATE_CONFLICT: ("Birth date differs", "identity"),
    FlagRule.FOREIGN_REFERENCE: ("Refers to another patient", "identity"),
    FlagRule.LOW_CONFIDENCE: ("Low confidence", "quality"),
    FlagRule.FEW_RESOURCES_LOW_CONFIDENCE: ("Few resources", "quality"),
    FlagRule.NO_RESOURCES: ("Nothing extracted", "quality"),
    FlagRule.FALLBACK_MODEL: ("Fallback model", "quality"),
    FlagRule.MERGE_ERROR: ("Merge failed", "error"),
}

# The evidence under an identity reason: which part, and how the document's compares.
EVIDENCE_PARTS = {"family": "Family name", "given": "Given name", "birth_date": "Birth date"}
EvidenceTone = Literal["ok", "warn", "identity", "none"]
MATCHES: dict[MatchKind, tuple[str, EvidenceTone]] = {
    MatchKind.EXACT: ("same", "ok"),
    MatchKind.INITIAL: ("initial", "ok"),
    MatchKind.NICKNAME: ("nickname", "ok"),
    MatchKind.COMPOUND: ("compound name", "ok"),
    MatchKind.PARTIAL: ("agrees as far as given", "ok"),
    MatchKind.TRANSLITERATED: ("transliterated", "warn"),
    MatchKind.TYPO: ("typo", "warn"),
    MatchKind.SIMILAR: ("similar", "warn"),
    MatchKind.SWAPPED: ("day and month swapped", "warn"),
    MatchKind.TRANSPOSED: ("year digits transposed", "warn"),
    MatchKind.MISSING: ("not given", "none"),
    MatchKind.DIFFERENT: ("different", "identity"),
}

REVIEW_STATUS_LABELS: dict[ReviewStatus, str] = {
    ReviewStatus.PENDING: "Pending",
    ReviewStatus.AUTO_APPROVED: "Auto-approved",
    ReviewStatus.FLAGGED: "Flagged",
    ReviewStatus.REVIEWED: "Reviewed",
    ReviewStatus.REJECTED: "Removed from record",
}

ACTION_LABELS: dict[ReviewActionKind, str] = {
    ReviewActionKind.MARK_CORRECT: "Mark as correct",
    ReviewActionKind.CORRECT_DATA: "Correct data",
    ReviewActionKind.ROLLBACK: "Remove from record",
}

# What the audit trail's entries record, said as done deeds.
AUDIT_ACTION_LABELS: dict[AuditAction, str] = {
    AuditAction.MERGE: "Merged",
    AuditAction.REMERGE: "Merged again",
    AuditAction.MERGE_FAILED: "Merge failed",
    AuditAction.MARK_CORRECT: "Marked correct",
    AuditAction.CORRECT_DATA: "Data corrected",
    AuditAction.ROLLBACK: "Removed from record",
    AuditAction.LEGACY_IMPORT: "Legacy import",
    AuditAction.DLQ_RETRY: "Dead letter retried",
}


def _fallback(code: str) -> str:
    # A code from a newer version than this app (read from the database): still readable.
    return code.replace("_", " ").capitalize()


def audit_action_label(action: str) -> str:
    return AUDIT_ACTION_LABELS[AuditAction(action)] if action in _AUDIT else _fallback(action)


def status_label(status: str) -> str:
    return REVIEW_STATUS_LABELS[ReviewStatus(status)] if status in _STATUSES else _fallback(status)


def action_label(action: str) -> str:
    return ACTION_LABELS[ReviewActionKind(action)] if action in _ACTIONS else _fallback(action)


def reason_label(rule: str) -> str:
    return REASONS[FlagRule(rule)][0] if rule in _RULES else _fallback(rule)


def reason_category(rule: str) -> ReasonCategory:
    return REASONS[FlagRule(rule)][1] if rule in _RULES else "quality"


_AUDIT = frozenset(AuditAction)
_STATUSES = frozenset(ReviewStatus)
_ACTIONS = frozenset(ReviewActionKind)
_RULES = frozenset(FlagRule)
_MATCHES = frozenset(MatchKind)


def match_label(how: str) -> tuple[str, EvidenceTone]:
    return MATCHES[MatchKind(how)] if how in _MATCHES else (how.replace("_", " "), "none")


def age_band(age: timedelta, *, warn_after_days: float, overdue_after_days: float) -> AgeBand:
    """Red once older than the overdue limit (7 days by default), amber past the warning one."""
    if age > timedelta(days=overdue_after_days):
        return "overdue"
    if age > timedelta(days=warn_after_days):
        return "warn"
    return "ok"


def humanize_age(age: timedelta) -> str:
    seconds = max(0, int(age.total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        minutes = seconds // 60
        return f"{minutes} min"
    if seconds < 2 * 86400:
        hours = seconds // 3600
        return f"{hours} h" if hours != 1 else "1 h"
    days = seconds // 86400
    return f"{days} days"


def format_dt(moment: datetime | None) -> str:
    if moment is None:
        return "–"
    return (
        moment.strftime("%Y-%m-%d %H:%M UTC")
        if moment.utcoffset() == timedelta(0)
        else (moment.isoformat(timespec="minutes"))
    )


def person_name(family: str | None, given: Sequence[str] | None) -> str:
    return display_name(family, list(given or ())) or "(no name)"


def name_as_read(patient: Mapping[str, Any] | None) -> str:
    name = (patient or {}).get("name") or {}
    return person_name(name.get("family"), name.get("given"))


def _text_of(concept: Any) -> str | None:
    if not isinstance(concept, dict):
        return None
    if isinstance(concept.get("text"), str) and concept["text"]:
        return str(concept["text"])
    for coding in concept.get("coding") or ():
        if isinstance(coding, dict) and coding.get("display"):
            return str(coding["display"])
    return None


_CONCEPT_FIELDS = ("code", "medicationCodeableConcept", "vaccineCode", "type", "class")
_DATE_FIELDS = (
    "effectiveDateTime",
    "onsetDateTime",
    "performedDateTime",
    "authoredOn",
    "occurrenceDateTime",
    "recordedDate",
    "issued",
    "date",
)


def resource_summary(resource: Mapping[str, Any]) -> str:
    """One line a person reads: what it is, its value, when."""
    parts: list[str] = []
    for key in _CONCEPT_FIELDS:
        text = _text_of(resource.get(key))
        if text:
            parts.append(text)
            break
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict) and quantity.get("value") is not None:
        value = quantity["value"]
        shown = f"{value:.4g}" if isinstance(value, float) else str(value)
        parts.append(f"{shown} {quantity.get('unit') or ''}".strip())
    elif isinstance(resource.get("valueString"), str):
        parts.append(str(resource["valueString"]))
    else:
        concept = _text_of(resource.get("valueCodeableConcept"))
        if concept:
            parts.append(concept)
    when = _first_date(resource)
    if when:
        parts.append(when)
    return " · ".join(parts) if parts else "(no code or text)"


def _first_date(resource: Mapping[str, Any]) -> str | None:
    for key in _DATE_FIELDS:
        value = resource.get(key)
        if isinstance(value, str) and value:
            return value[:10]
    for key in ("performedPeriod", "period", "effectivePeriod"):
        period = resource.get(key)
        if isinstance(period, dict) and isinstance(period.get("start"), str):
            return str(period["start"])[:10]
    return None


@dataclass(frozen=True, slots=True)
class Outcome:
    level: Literal["success", "error", "pending"]
    title: str
    detail: str


def describe_outcome(
    action: str, outcome: str | None, reason: str | None, version_after: int | None
) -> Outcome:
    """What to tell the reviewer once the merge agent has applied (or refused) an action."""
    label = action_label(action) if action in _ACTIONS else "your action"
    if outcome is None:
        return Outcome(
            "pending",
            f"Applying “{label}”…",
            "The merge worker applies it in order with this patient's other changes; "
            "this page updates by itself.",
        )
    if outcome == "applied":
        detail = {
            "mark_correct": "The data stays as it is; the document is now Reviewed.",
            "correct_data": "The document's resources in the patient record were replaced by "
            "your corrected ones; the document is now Reviewed.",
            "rollback": "All resources this document contributed were removed from the patient "
            "record; other documents' resources were not touched.",
        }.get(action, "")
        return Outcome("success", f"Done: {label}.", f"{detail} Version {version_after}.")
    if outcome == "conflict":
        return Outcome(
            "error",
            f"Not applied: {label}.",
            f"{(reason or 'the document changed').rstrip('.')}. The page now shows the "
            "document as it is; check it and act again if it still needs it.",
        )
    return Outcome("error", f"Not applied: {label}.", reason or outcome)


@dataclass(frozen=True, slots=True)
class Pagination:
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def first_item(self) -> int:
        return 0 if self.total == 0 else self.offset + 1

    @property
    def last_item(self) -> int:
        return min(self.total, self.offset + self.per_page)

    def window(self, width: int = 2) -> list[int | None]:
        """Page numbers to link, with None where a gap is: 1 … 4 5 [6] 7 8 … 20."""
        shown = {1, self.pages, *range(self.page - width, self.page + width + 1)}
        out: list[int | None] = []
        previous = 0
        for number in sorted(n for n in shown if 1 <= n <= self.pages):
            if number - previous > 1:
                out.append(None)
            out.append(number)
            previous = number
        return out
