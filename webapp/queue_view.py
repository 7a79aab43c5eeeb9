"""The flagged queue as the pages show it: the dashboard widget and the list's rows (pure)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from schemas import FlagReason, FlagRule
from storage.queue import QueueSummary
from webapp import present
from webapp.render import doc_url
from webapp.settings import AppSettings


@dataclass(frozen=True, slots=True)
class Widget:
    count: int
    oldest_age: str | None
    band: present.AgeBand
    overdue: int
    top_reasons: list[tuple[str, int]]
    headline: str
    overdue_days: int
    warn_days: int


def widget(summary: QueueSummary, now: datetime, settings: AppSettings) -> Widget:
    if summary.count == 0 or summary.oldest is None:
        return Widget(
            0,
            None,
            "ok",
            0,
            [],
            "Nothing waiting for review",
            round(settings.overdue_after_days),
            round(settings.warn_after_days),
        )
    age = now - summary.oldest
    band = present.age_band(
        age,
        warn_after_days=settings.warn_after_days,
        overdue_after_days=settings.overdue_after_days,
    )
    noun = "document" if summary.count == 1 else "documents"
    return Widget(
        count=summary.count,
        oldest_age=present.humanize_age(age),
        band=band,
        overdue=summary.overdue,
        top_reasons=list(summary.by_reason.items())[:4],
        headline=f"{summary.count} flagged {noun} waiting for review",
        overdue_days=round(settings.overdue_after_days),
        warn_days=round(settings.warn_after_days),
    )


LOW_CONFIDENCE_RULES = frozenset({FlagRule.LOW_CONFIDENCE, FlagRule.FEW_RESOURCES_LOW_CONFIDENCE})


@dataclass(frozen=True, slots=True)
class Reason:
    rule: FlagRule
    label: str
    category: present.ReasonCategory
    text: str


@dataclass(frozen=True, slots=True)
class FlaggedRow:
    document_id: str
    url: str
    title: str
    document_type: str | None
    patient_id: str
    patient_name: str
    patient_known: bool
    birth_date: str | None
    reasons: list[Reason]
    confidence: float | None
    model: str
    is_fallback: bool
    resource_count: int
    received: datetime
    low_confidence: bool
    age: str
    band: present.AgeBand
    version: int


def reasons_of(flag_reasons: Iterable[FlagReason | Mapping[str, Any]] | None) -> list[Reason]:
    """Reasons as the pages show them, from the stored JSON or from FlagReason models."""
    out = []
    for raw in flag_reasons or ():
        try:
            reason = raw if isinstance(raw, FlagReason) else FlagReason.model_validate(raw)
        except ValidationError:
            continue  # not a reason this version knows: the rest still shows
        label, category = present.REASONS[reason.rule]
        out.append(Reason(reason.rule, label, category, reason.text))
    # Identity problems first: they decide whether the data belongs to this patient at all.
    order = {"error": 0, "identity": 1, "quality": 2}
    return sorted(out, key=lambda r: order[r.category])


def flagged_row(row: Mapping[str, Any], now: datetime, settings: AppSettings) -> FlaggedRow:
    received: datetime = row["created_at"]
    age = now - received
    known = bool(row.get("patient_known"))
    name = (
        present.person_name(row.get("family"), row.get("given"))
        if known
        else present.name_as_read(row.get("patient_as_read"))
    )
    birth = row.get("birth_date")
    model = " ".join(p for p in (row.get("model_name"), row.get("model_version")) if p)
    reasons = reasons_of(row.get("flag_reasons"))
    return FlaggedRow(
        document_id=str(row["document_id"]),
        url=doc_url(str(row["document_id"])),
        title=str(row.get("title") or "Untitled document"),
        document_type=row.get("document_type"),
        patient_id=str(row["patient_id"]),
        patient_name=name,
        patient_known=known,
        birth_date=birth.isoformat() if birth else None,
        reasons=reasons,
        confidence=row.get("confidence"),
        model=model or "unknown model",
        is_fallback=bool(row.get("is_fallback")),
        resource_count=int(row.get("resource_count") or 0),
        received=received,
        low_confidence=any(r.rule in LOW_CONFIDENCE_RULES for r in reasons),
        age=present.humanize_age(age),
        band=present.age_band(
            age,
            warn_after_days=settings.warn_after_days,
            overdue_after_days=settings.overdue_after_days,
        ),
        version=int(row["version"]),
    )
