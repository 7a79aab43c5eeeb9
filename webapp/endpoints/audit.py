"""The audit trail for compliance officers: filters, entries, and the state of its integrity
(the newest signed verification; one patient's chain recomputed on a page about them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import Response

from domain.audit_checkpoints import Checkpoints
from domain.read_audit import ReadChannel
from pipeline.audit_check import verify_audit
from storage.audit import AuditFilters, audit_actions, audit_page
from storage.audit_verifications import newest_verification
from storage.db import snapshot
from storage.read_audit import read_page
from webapp.audit_state import AuditState, audit_state
from webapp.auth import require
from webapp.context import AppContext, ctx, db
from webapp.filters import audit_query, is_filtered, parse_audit, parse_reads, reads_query
from webapp.present import Pagination, audit_action_label
from webapp.render import JSON, render
from webapp.roles import Permission


@dataclass(frozen=True, slots=True)
class AuditListing:
    rows: list[dict[str, Any]]
    pagination: Pagination
    actions: list[str]
    chain: AuditState


def load_audit(
    conn: psycopg.Connection,
    filters: AuditFilters,
    page: int,
    per_page: int,
    context: AppContext,
) -> AuditListing:
    # One snapshot: entries, the newest verification record and (for a page about one patient)
    # that patient's chain, recomputed now. Every chain is never recomputed per view: the
    # checkpointer does that each minute and signs what it found.
    with snapshot(conn):
        rows, total = audit_page(conn, filters, limit=per_page, offset=(page - 1) * per_page)
        actions = audit_actions(conn)
        stored = newest_verification(conn)
        patient = None
        if filters.patient:
            none = Checkpoints({}, [])
            patient = verify_audit(
                conn, context.keyring, none, full=True, patient_id=filters.patient
            )
    audit = context.settings.audit
    chain = audit_state(
        stored,
        context.keyring,
        now=context.clock(),
        stale_after=timedelta(seconds=audit.stale_after_seconds),
        patient=patient,
    )
    return AuditListing(rows, Pagination(page, per_page, total), actions, chain)


def _counts(changes: Any) -> str:
    if not isinstance(changes, Mapping) or not changes:
        return ""
    return ", ".join(f"{n} {t}" for t, n in changes.items())


def details_summary(action: str, details: Mapping[str, Any]) -> list[str]:
    """The facts of one entry a person checks: what changed, versions, reasons, note."""
    lines: list[str] = []
    resources = details.get("resources")
    if isinstance(resources, Mapping):
        for key, label in (("added", "added"), ("updated", "updated"), ("removed", "removed")):
            text = _counts(resources.get(key))
            if text:
                lines.append(f"{label}: {text}")
    if details.get("resources_removed") is not None and not (
        isinstance(resources, Mapping) and resources.get("removed")
    ):
        lines.append(f"resources removed: {details['resources_removed']}")
    if details.get("review_status"):
        lines.append(f"review status: {details['review_status']}")
    if details.get("flag_reasons"):
        lines.append("flagged: " + ", ".join(map(str, details["flag_reasons"])))
    if "expected_version" in details:
        lines.append(
            f"version {details.get('document_version')} (reviewer saw "
            f"{details['expected_version']})"
        )
    elif details.get("document_version"):
        lines.append(f"version {details['document_version']}")
    if details.get("false_positive"):
        lines.append("flag was a false positive")
    if details.get("error"):
        lines.append(f"error: {details['error']}")
    if details.get("note"):
        lines.append(f"note: “{details['note']}”")
    return lines


def _entries(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            **row,
            "action_label": audit_action_label(row["action"]),
            "summary": details_summary(row["action"], row["details"] or {}),
        }
        for row in rows
    ]


async def _load(request: Request) -> tuple[AuditListing, Any]:
    require(request, Permission.VIEW_AUDIT)
    parsed = parse_audit(request.query_params)
    context = ctx(request)
    listing = await db(
        request, load_audit, parsed.filters, parsed.page, context.app_settings.page_size, context
    )
    return listing, parsed


async def audit_view(request: Request) -> Response:
    listing, parsed = await _load(request)
    filters = parsed.filters
    return render(
        request,
        "audit.html",
        {
            "entries": _entries(listing.rows),
            "pagination": listing.pagination,
            "filters": filters,
            "filtered": is_filtered(filters),
            "errors": parsed.errors,
            "actions": listing.actions,
            "chain": listing.chain,
            "page_query": lambda page: audit_query(filters, page),
        },
    )


async def api_audit(request: Request) -> Response:
    listing, parsed = await _load(request)
    chain = listing.chain
    return JSON(
        {
            "entries": listing.rows,
            "total": listing.pagination.total,
            "page": listing.pagination.page,
            "pages": listing.pagination.pages,
            "errors": parsed.errors,
            "chain": chain.as_json(),
        }
    )


async def _load_reads(request: Request) -> tuple[list[dict[str, Any]], Pagination, Any]:
    require(request, Permission.VIEW_AUDIT)
    parsed = parse_reads(request.query_params)
    per_page = ctx(request).app_settings.page_size
    offset = (parsed.page - 1) * per_page
    rows, total = await db(request, read_page, parsed.filters, limit=per_page, offset=offset)
    return rows, Pagination(parsed.page, per_page, total), parsed


async def reads_view(request: Request) -> Response:
    """Who read which patient's record or document, newest first (docs/contract.md#read-audit)."""
    rows, pagination, parsed = await _load_reads(request)
    filters = parsed.filters
    return render(
        request,
        "audit_reads.html",
        {
            "reads": rows,
            "pagination": pagination,
            "filters": filters,
            "filtered": is_filtered(filters),
            "errors": parsed.errors,
            "channels": [c.value for c in ReadChannel],
            "page_query": lambda page: reads_query(filters, page),
        },
    )


async def api_reads(request: Request) -> Response:
    rows, pagination, parsed = await _load_reads(request)
    return JSON(
        {
            "reads": rows,
            "total": pagination.total,
            "page": pagination.page,
            "pages": pagination.pages,
            "errors": parsed.errors,
        }
    )
