"""Query-string filters of the flagged list and the audit view, parsed and echoed back (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from typing import Generic, TypeVar
from urllib.parse import urlencode

from domain.read_audit import ReadChannel
from schemas import FlagRule
from storage.audit import AuditFilters
from storage.queue import FlaggedFilters
from storage.read_audit import ReadFilters

MAX_TEXT = 200
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Parsed(Generic[T]):
    filters: T
    page: int
    errors: list[str] = field(default_factory=list)


def _date(query: Mapping[str, str], key: str, label: str, errors: list[str]) -> date | None:
    raw = query.get(key, "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        errors.append(f"“{label}” must be a date like 2026-11-22; it was ignored.")
        return None


def _text(query: Mapping[str, str], key: str) -> str | None:
    # NUL can reach no text column (PostgreSQL refuses it): read it as a space.
    raw = " ".join(query.get(key, "").replace("\x00", " ").split())[:MAX_TEXT]
    return raw or None


def parse_page(query: Mapping[str, str]) -> int:
    try:
        page = int(query.get("page", "1"))
    except ValueError:
        return 1
    return min(max(page, 1), 100_000)


def _date_range(query: Mapping[str, str], errors: list[str]) -> tuple[date | None, date | None]:
    since = _date(query, "from", "From", errors)
    until = _date(query, "to", "To", errors)
    if since and until and since > until:
        errors.append("“From” is after “To”: the two dates were swapped.")
        since, until = until, since
    return since, until


def parse_flagged(query: Mapping[str, str]) -> Parsed[FlaggedFilters]:
    errors: list[str] = []
    since, until = _date_range(query, errors)
    reason = _text(query, "reason")
    if reason and reason not in {r.value for r in FlagRule}:
        errors.append(f"There is no flag reason “{reason}”; showing every reason.")
        reason = None
    filters = FlaggedFilters(
        since=since, until=until, reason=reason, patient=_text(query, "patient")
    )
    return Parsed(filters, parse_page(query), errors)


def _encode(params: Mapping[str, str], page: int | None) -> str:
    """The set filters (in the given order) and the page past the first, as a query string."""
    pairs = [(k, v) for k, v in params.items() if v]
    if page and page > 1:
        pairs.append(("page", str(page)))
    return urlencode(pairs)


def _day(day: date | None) -> str:
    return day.isoformat() if day else ""


def flagged_query(filters: FlaggedFilters, page: int | None = None) -> str:
    """The query string that gives these filters (and page) back."""
    params = {
        "from": _day(filters.since),
        "to": _day(filters.until),
        "reason": filters.reason or "",
        "patient": filters.patient or "",
    }
    return _encode(params, page)


def parse_audit(query: Mapping[str, str]) -> Parsed[AuditFilters]:
    errors: list[str] = []
    since, until = _date_range(query, errors)
    filters = AuditFilters(
        patient=_text(query, "patient"),
        document=_text(query, "document"),
        actor=_text(query, "actor"),
        action=_text(query, "action"),
        since=since,
        until=until,
    )
    return Parsed(filters, parse_page(query), errors)


def audit_query(filters: AuditFilters, page: int | None = None) -> str:
    params = {
        "patient": filters.patient or "",
        "document": filters.document or "",
        "actor": filters.actor or "",
        "action": filters.action or "",
        "from": _day(filters.since),
        "to": _day(filters.until),
    }
    return _encode(params, page)


def parse_reads(query: Mapping[str, str]) -> Parsed[ReadFilters]:
    errors: list[str] = []
    since, until = _date_range(query, errors)
    channel = _text(query, "channel")
    if channel and channel not in {c.value for c in ReadChannel}:
        errors.append(f"channel: choose one of {', '.join(c.value for c in ReadChannel)}")
        channel = None
    filters = ReadFilters(
        patient=_text(query, "patient"),
        document=_text(query, "document"),
        actor=_text(query, "actor"),
        channel=channel,
        since=since,
        until=until,
    )
    return Parsed(filters, parse_page(query), errors)


def reads_query(filters: ReadFilters, page: int | None = None) -> str:
    params = {
        "patient": filters.patient or "",
        "document": filters.document or "",
        "actor": filters.actor or "",
        "channel": filters.channel or "",
        "from": _day(filters.since),
        "to": _day(filters.until),
    }
    return _encode(params, page)


def is_filtered(filters: FlaggedFilters | AuditFilters | ReadFilters) -> bool:
    return any(getattr(filters, f.name) for f in fields(filters))
