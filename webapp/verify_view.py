"""The verify page's content: reasons, the extraction with its snippets, the patient's record
(pure: built from what `load_verify` read)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import orjson
import psycopg

from domain.documents import DocumentView
from domain.resources import document_source
from schemas import FlagReason, FlagRule, ReviewStatus
from schemas.exact_json import dumps_exact
from storage.db import snapshot
from storage.queue import action_outcome, next_flagged, patient_resources, patient_row
from storage.read import document_extraction, document_resources, document_state
from webapp import present
from webapp.corrections import editable_resources
from webapp.queue_view import Reason, reasons_of

RECORD_ITEMS_PER_TYPE = 50


@dataclass(frozen=True, slots=True)
class VerifyData:
    state: DocumentView
    extraction: dict[str, Any]
    resources: list[dict[str, Any]]
    patient: dict[str, Any] | None
    record: list[dict[str, Any]]
    outcome: dict[str, Any] | None
    next_document: str | None


def load_verify(
    conn: psycopg.Connection, document_id: str, action_id: uuid.UUID | None
) -> VerifyData | None:
    with snapshot(conn):
        state = document_state(conn, document_id)
        if state is None:
            return None
        patient_id = state.patient_id
        return VerifyData(
            state=state,
            extraction=document_extraction(conn, document_id) or {},
            resources=document_resources(conn, document_id),
            patient=patient_row(conn, patient_id),
            record=patient_resources(conn, patient_id),
            outcome=action_outcome(conn, document_id, action_id) if action_id else None,
            next_document=next_flagged(conn, document_id),
        )


@dataclass(frozen=True, slots=True)
class ExtractedItem:
    number: int
    resource_type: str
    summary: str
    snippets: list[dict[str, Any]]
    json: str


@dataclass(frozen=True, slots=True)
class RecordItem:
    summary: str
    document_id: str
    document_title: str
    from_this_document: bool


@dataclass(frozen=True, slots=True)
class RecordGroup:
    resource_type: str
    total: int
    mine: list[RecordItem]
    others: list[RecordItem]
    others_total: int

    @property
    def from_this_document(self) -> int:
        return len(self.mine)


@dataclass(frozen=True, slots=True)
class EvidenceRow:
    """One part of the identity under a reason: both values and how they compare."""

    part: str
    document: str
    record: str
    how: str
    tone: present.EvidenceTone
    score: str | None
    detail: str | None


@dataclass(frozen=True, slots=True)
class Demographics:
    name_read: str
    birth_read: str | None
    name_record: str | None
    birth_record: str | None
    gender: str | None
    name_differs: bool
    birth_differs: bool
    known: bool


@dataclass(frozen=True, slots=True)
class VerifyView:
    document_id: str
    patient_id: str
    title: str
    document_type: str | None
    pages: int | None
    review_status: ReviewStatus
    version: int
    reasons: list[Reason]
    evidence: dict[str, list[EvidenceRow]]
    state: DocumentView
    model: str
    demographics: Demographics
    extracted: list[ExtractedItem]
    stored_count: int
    editor_text: str
    record: list[RecordGroup]
    record_total: int
    record_documents: int
    can_be_acted_on: bool
    why_not_actionable: str | None
    next_document: str | None


def _iso(value: Any) -> str | None:
    if isinstance(value, date | datetime):
        return value.isoformat()[:10]
    return str(value)[:10] if value else None


def _demographics(data: VerifyData, rules: set[FlagRule]) -> Demographics:
    read = data.extraction.get("patient") or {}
    patient = data.patient or {}
    record = patient.get("record") or {}
    known = bool(record)
    return Demographics(
        name_read=present.name_as_read(read),
        birth_read=_iso(read.get("birth_date")),
        name_record=present.person_name(patient.get("family"), patient.get("given"))
        if known
        else None,
        # The column holds full dates only; a partial birthDate is in the record.
        birth_record=_iso(patient.get("birth_date")) or record.get("birthDate") if known else None,
        gender=str(record.get("gender")) if record.get("gender") else None,
        name_differs=FlagRule.NAME_MISMATCH in rules,
        birth_differs=FlagRule.BIRTH_DATE_CONFLICT in rules,
        known=known,
    )


def _evidence(flag_reasons: Sequence[FlagReason]) -> dict[str, list[EvidenceRow]]:
    """Per rule code, the evidence its reason carries (the identity rules have some)."""
    rows: dict[str, list[EvidenceRow]] = {}
    for reason in flag_reasons:
        for item in reason.evidence:
            how, tone = present.match_label(item.how)
            rows.setdefault(reason.rule, []).append(
                EvidenceRow(
                    part=present.EVIDENCE_PARTS.get(item.part, item.part),
                    document=item.document or "–",
                    record=item.record or "–",
                    how=how,
                    tone=tone,
                    score=f"{item.score:.0f} %" if item.score is not None else None,
                    detail=item.detail,
                )
            )
    return rows


def _extracted(extraction: Mapping[str, Any]) -> list[ExtractedItem]:
    snippets = extraction.get("source_snippets") or {}
    items = []
    for index, resource in enumerate(extraction.get("resources") or ()):
        if not isinstance(resource, Mapping):
            continue
        items.append(
            ExtractedItem(
                number=index + 1,
                resource_type=str(resource.get("resourceType", "?")),
                summary=present.resource_summary(resource),
                snippets=[dict(s) for s in snippets.get(str(index), ()) if isinstance(s, Mapping)],
                json=dumps_exact(resource, option=orjson.OPT_INDENT_2).decode(),
            )
        )
    return items


def _record(rows: Sequence[Mapping[str, Any]], document_id: str) -> list[RecordGroup]:
    source = document_source(document_id)
    groups: dict[str, list[RecordItem]] = {}
    for row in rows:
        body = row["body"]
        mine = (body.get("meta") or {}).get("source") == source
        groups.setdefault(str(row["resource_type"]), []).append(
            RecordItem(
                summary=present.resource_summary(body),
                document_id=str(row["document_id"]),
                document_title=str(row.get("document_title") or row["document_id"]),
                from_this_document=mine,
            )
        )
    out = []
    for rtype, items in sorted(groups.items()):
        # This document's own resources are always shown; the others' up to a limit.
        others = [i for i in items if not i.from_this_document]
        out.append(
            RecordGroup(
                resource_type=rtype,
                total=len(items),
                mine=[i for i in items if i.from_this_document],
                others=others[:RECORD_ITEMS_PER_TYPE],
                others_total=len(others),
            )
        )
    return out


def _actionable(state: DocumentView) -> tuple[bool, str | None]:
    if state.review_status == ReviewStatus.REJECTED:
        return False, (
            "This document was removed from the record. Only a newer extraction of it can "
            "merge again."
        )
    if not state.is_merged:
        return False, (
            "This document could not be merged, so there is nothing in the record to verify. "
            "An operator can fix and replay it (optimerge dlq replay)."
        )
    return True, None


def verify_view(data: VerifyData, editor_text: str | None = None) -> VerifyView:
    state = data.state
    extraction = data.extraction
    document = extraction.get("document") or {}
    reasons = reasons_of(state.flag_reasons)
    rules = {r.rule for r in reasons}
    model = " ".join(p for p in (state.model_name, state.model_version) if p)
    can, why_not = _actionable(state)
    record = _record(data.record, state.document_id)
    return VerifyView(
        document_id=state.document_id,
        patient_id=state.patient_id,
        title=str(document.get("title") or "Untitled document"),
        document_type=document.get("type"),
        pages=document.get("pages"),
        review_status=state.review_status,
        version=state.version,
        reasons=reasons,
        evidence=_evidence(state.flag_reasons),
        state=state,
        model=model or "unknown model",
        demographics=_demographics(data, rules),
        extracted=_extracted(extraction),
        stored_count=len(data.resources),
        editor_text=editor_text if editor_text is not None else editable_resources(data.resources),
        record=record,
        record_total=len(data.record),
        record_documents=len({r["document_id"] for r in data.record}),
        can_be_acted_on=can,
        why_not_actionable=why_not,
        next_document=data.next_document,
    )
