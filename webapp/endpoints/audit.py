"""The audit trail for compliance officers: filters, entries, and the hash-chain check."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import Response

from domain.audit import ChainReport
from pipeline.audit_check import verify_audit_chains
from storage.audit import AuditFilters, audit_actions, audit_page
from storage.db import snapshot
from webapp.auth import require
from webapp.context import ctx, db
from webapp.filters import audit_query, is_filtered, parse_audit
from webapp.present import Pagination, audit_action_label
from webapp.render import JSON, render
from webapp.roles import Permission


@dataclass(frozen=True, slots=True)
class AuditListing:
    rows: list[dict[str, Any]]
    pagination: Pagination
    actions: list[str]
    chain: ChainReport


def load_audit(
    conn: psycopg.Connection, filters: AuditFilters, page: int, per_page: int
) -> AuditListing:
    # One snapshot: the entries shown are the ones whose chain is checked (which also needs a
    # transaction for its server-side cursor). One patient's chain when the view is about one
    # patient; every chain otherwise.
    with snapshot(conn):
        rows, total = audit_page(conn, filters, limit=per_page, offset=(page - 1) * per_page)
        chain = verify_audit_chains(conn, filters.patient)
        actions = audit_actions(conn)
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
    listing = await db(
        request, load_audit, parsed.filters, parsed.page, ctx(request).app_settings.page_size
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
            "chain": {
                "ok": chain.ok,
                "patients": chain.patients,
                "entries": chain.entries,
                "breaks": [
                    {"patient_id": b.patient_id, "seq": b.seq, "reason": b.reason}
                    for b in chain.breaks
                ],
            },
        }
    )
