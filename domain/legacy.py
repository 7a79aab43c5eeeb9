"""Mapping records of the legacy review workflow onto optimerge's document states
(docs/contract.md#legacy-import).

`approved` without a reviewer becomes `auto_approved`, with one `reviewed`; `pending`, `rejected`
and `flagged` stay as they are. Any other status is reported, never guessed. Auto-approved,
reviewed and flagged documents are merged (their resources stored exactly as a merge would store
them); rejected ones keep no resources; pending ones wait for processing.

The legacy free-text `flag_reason` becomes flag reasons. The rule codes are a fixed contract
(docs/contract.md#flag-rules), so none is added: each part of the text (split on ";" and new
lines) gets the rule it names ("confidence", "fallback", "DOB", ...); a part naming no rule is
kept verbatim under `low_confidence`, the broadest "do not trust this extraction yet", with a
"Legacy flag:" prefix.
The document stays flagged either way, so a reviewer reads the original text; only the per-rule
statistics carry the approximation, and the import report counts those texts.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from domain.audit import AuditAction, AuditEntry
from domain.merge_plan import ResourceChanges, plan_merge
from schemas import (
    ActorKind,
    ExtractionResult,
    FlagReason,
    FlagRule,
    ProcessingStatus,
    ReviewStatus,
    deterministic_event_id,
)
from schemas.legacy import LegacyRecord

LEGACY_STATUSES = ("approved", "pending", "rejected", "flagged")
MERGED_STATUSES = frozenset(
    {ReviewStatus.AUTO_APPROVED, ReviewStatus.REVIEWED, ReviewStatus.FLAGGED}
)
AUDIT_ACTION = AuditAction.LEGACY_IMPORT
# ExtractionResult needs a model name; the legacy export may not have recorded one.
UNRECORDED_MODEL = "unrecorded-legacy-model"
GENERIC_RULE = FlagRule.LOW_CONFIDENCE

# First match wins, so the specific patterns come before the ones they contain.
_RULE_PATTERNS: tuple[tuple[FlagRule, re.Pattern[str]], ...] = tuple(
    (rule, re.compile(pattern, re.IGNORECASE))
    for rule, pattern in (
        (FlagRule.MERGE_ERROR, r"\bmerge\b.*\b(fail|error)"),
        (FlagRule.UNKNOWN_PATIENT, r"unknown patient|patient (record )?not found|no patient rec"),
        (FlagRule.BIRTH_DATE_CONFLICT, r"\bdob\b|date of birth|birth ?date"),
        (FlagRule.NAME_MISMATCH, r"\bname"),
        (FlagRule.FALLBACK_MODEL, r"fallback"),
        (FlagRule.NO_RESOURCES, r"\b(no|zero|0)\s+(\w+\s+)?resources?\b|no medical data"),
        (FlagRule.FEW_RESOURCES_LOW_CONFIDENCE, r"\bfew(er)?\b.*\bresources?\b"),
        (FlagRule.LOW_CONFIDENCE, r"confidence"),
    )
)


@dataclass(frozen=True, slots=True)
class Unmapped:
    """A record that is not imported, and why: reported, never dropped silently."""

    reason: str
    where: str = ""
    document_id: str | None = None
    old_status: str | None = None


@dataclass(frozen=True, slots=True)
class LegacyMapping:
    record: LegacyRecord
    review_status: ReviewStatus
    extraction: ExtractionResult
    flag_reasons: tuple[FlagReason, ...] = ()
    where: str = ""
    # Flag texts that named no rule code and were filed under GENERIC_RULE.
    generic_flag_reasons: int = 0

    @property
    def document_id(self) -> str:
        return self.record.document_id

    @property
    def patient_id(self) -> str:
        return self.record.patient_id

    @property
    def old_status(self) -> str:
        return self.record.review_status

    @property
    def is_merged(self) -> bool:
        return self.review_status in MERGED_STATUSES

    @property
    def processing_status(self) -> ProcessingStatus:
        # A pending record was never analysed: it awaits processing like a fresh upload.
        if self.review_status == ReviewStatus.PENDING:
            return ProcessingStatus.PENDING
        return ProcessingStatus.COMPLETE


def new_status(old_status: str, reviewer: str | None) -> ReviewStatus | None:
    """The R5 mapping; None for a status it does not know."""
    if old_status == "approved":
        return ReviewStatus.REVIEWED if reviewer else ReviewStatus.AUTO_APPROVED
    if old_status in LEGACY_STATUSES:
        return ReviewStatus(old_status)
    return None


def flag_reasons_from_text(text: str | None) -> tuple[tuple[FlagReason, ...], int]:
    """Flag reasons for a legacy free text, and how many parts fell back to GENERIC_RULE."""
    reasons: list[FlagReason] = []
    generic = 0
    for part in re.split(r"[;\n]+", text or ""):
        part = part.strip()
        if not part:
            continue
        rule = next((r for r, pattern in _RULE_PATTERNS if pattern.search(part)), None)
        if rule is None:
            generic += 1
            reasons.append(FlagReason(rule=GENERIC_RULE, text=f"Legacy flag: {part}"))
        else:
            reasons.append(FlagReason(rule=rule, text=part))
    return tuple(reasons), generic


def _flag_reasons(record: LegacyRecord, status: ReviewStatus) -> tuple[tuple[FlagReason, ...], int]:
    if status == ReviewStatus.AUTO_APPROVED:
        # No rule fired for an auto-approved document; any old text stays in the stored record.
        return (), 0
    reasons, generic = flag_reasons_from_text(record.flag_reason)
    if status == ReviewStatus.FLAGGED and not reasons:
        # The reviewer's queue shows reasons first: say that none was recorded.
        missing = FlagReason(rule=GENERIC_RULE, text="Legacy flag: no reason was recorded")
        return (missing,), 1
    return reasons, generic


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(p) for p in error["loc"])
        parts.append(f"{location}: {error['msg']}" if location else str(error["msg"]))
    return "; ".join(parts)


def _peek(raw: object, key: str) -> str | None:
    value = raw.get(key) if isinstance(raw, dict) else None
    return str(value) if isinstance(value, str | int) else None


def map_legacy(raw: object, *, where: str = "") -> LegacyMapping | Unmapped:
    """Map one exported record (a JSON object or a LegacyRecord); pure, raises nothing."""
    document_id, old_status = _peek(raw, "document_id"), _peek(raw, "review_status")
    if isinstance(raw, LegacyRecord):
        document_id, old_status = raw.document_id, raw.review_status
    # An unknown status is the first thing to report: fixing other fields would not import it.
    if old_status is not None and old_status not in LEGACY_STATUSES:
        return Unmapped(f"unknown status {old_status!r}", where, document_id, old_status)
    try:
        record = raw if isinstance(raw, LegacyRecord) else LegacyRecord.model_validate(raw)
        status = new_status(record.review_status, record.reviewed_by)
        if status is None:
            return Unmapped(f"unknown status {old_status!r}", where, document_id, old_status)
        reasons, generic = _flag_reasons(record, status)
        extraction = ExtractionResult.model_validate(_extraction_fields(record, reasons))
    except ValidationError as exc:
        reason = f"invalid record: {_validation_message(exc)}"
        return Unmapped(reason, where, document_id, old_status)
    return LegacyMapping(record, status, extraction, reasons, where, generic)


def _extraction_fields(record: LegacyRecord, reasons: Iterable[FlagReason]) -> dict[str, Any]:
    """The extraction as the merge agent would have received it, plus the legacy record itself."""
    # The legacy model flagged fallback use in its reason text; that is the only trace of it.
    is_fallback = any(r.rule == FlagRule.FALLBACK_MODEL for r in reasons)
    return {
        # Deterministic: importing the same record twice describes the same event.
        "event_id": deterministic_event_id(record.document_id, 1, AUDIT_ACTION),
        "document_id": record.document_id,
        "patient_id": record.patient_id,
        "extraction_version": 1,
        "uploaded_at": record.uploaded_at or record.created_at,
        "extracted_at": record.created_at,
        "model": {"name": record.model or UNRECORDED_MODEL, "is_fallback": is_fallback},
        "confidence": record.confidence,
        "resources": record.fhir_resources,
        # Every exported field, extras included, except the resources already stored above.
        "legacy": record.model_dump(mode="json", exclude={"fhir_resources"}),
    }


def mark_duplicates(
    items: Iterable[LegacyMapping | Unmapped],
) -> Iterator[LegacyMapping | Unmapped]:
    """Report a document id met again in the same export instead of letting either copy win."""
    first_seen: dict[str, str] = {}
    for item in items:
        if isinstance(item, LegacyMapping):
            earlier = first_seen.get(item.document_id)
            if earlier is not None:
                yield Unmapped(
                    f"duplicate document_id {item.document_id!r} (first at {earlier or '?'})",
                    item.where,
                    item.document_id,
                    item.old_status,
                )
                continue
            first_seen[item.document_id] = item.where
        yield item


def plan_legacy_resources(mapping: LegacyMapping, now: datetime) -> ResourceChanges:
    """The resource writes of a merged document, planned by the merge planner itself, so ids
    and meta are what a merge of the same extraction would produce; none for the others."""
    if not mapping.is_merged:
        return ResourceChanges()
    decision = plan_merge(mapping.extraction, None, mapping.flag_reasons, now)
    assert decision.changes is not None  # a first merge always plans its resources
    return decision.changes


def _count_types(resources: Iterable[dict[str, Any]]) -> dict[str, int]:
    return dict(sorted(Counter(str(r["resourceType"]) for r in resources).items()))


def legacy_audit_entry(
    mapping: LegacyMapping, changes: ResourceChanges, *, actor: str, now: datetime
) -> AuditEntry:
    record = mapping.record
    return AuditEntry(
        patient_id=mapping.patient_id,
        document_id=mapping.document_id,
        action=AUDIT_ACTION,
        actor_kind=ActorKind.OPERATOR,
        actor=actor,
        details={
            "legacy_status": mapping.old_status,
            "review_status": mapping.review_status.value,
            "is_merged": mapping.is_merged,
            "document_version": 1,
            "resources": changes.summary()["added"],
            "resources_in_record": _count_types(record.fhir_resources),
            "flag_reasons": [r.rule.value for r in mapping.flag_reasons],
            "legacy_reviewer": record.reviewed_by,
            # A string, not a datetime: the hash must survive the round trip through JSONB.
            "legacy_reviewed_at": record.reviewed_at.isoformat() if record.reviewed_at else None,
            "source": mapping.where,
        },
        occurred_at=now,
    )
