"""The dashboard (with its widget) and the flagged list, with fragments for live refresh."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import psycopg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storage.db import snapshot
from storage.queue import FlaggedFilters, QueueSummary, flagged_page, queue_summary
from webapp.auth import current_user, require
from webapp.context import ctx, db
from webapp.filters import flagged_query, is_filtered, parse_flagged
from webapp.present import REASONS, Pagination
from webapp.queue_view import FlaggedRow, flagged_row, widget
from webapp.render import render
from webapp.roles import Permission
from webapp.settings import AppSettings


def _overdue_before(request: Request) -> datetime:
    context = ctx(request)
    return context.clock() - timedelta(days=context.app_settings.overdue_after_days)


async def dashboard(request: Request) -> Response:
    user = current_user(request)
    if user is not None and not user.can(Permission.VIEW_QUEUE) and user.can(Permission.VIEW_OPS):
        return RedirectResponse("/ops/", status_code=303)  # an operator's home is the console
    require(request, Permission.VIEW_QUEUE)
    summary = await db(request, queue_summary, _overdue_before(request))
    context = ctx(request)
    return render(
        request,
        "dashboard.html",
        {"widget": widget(summary, context.clock(), context.app_settings)},
    )


async def widget_fragment(request: Request) -> Response:
    require(request, Permission.VIEW_QUEUE)
    summary = await db(request, queue_summary, _overdue_before(request))
    context = ctx(request)
    return render(
        request, "_widget.html", {"widget": widget(summary, context.clock(), context.app_settings)}
    )


@dataclass(frozen=True, slots=True)
class FlaggedListing:
    summary: QueueSummary
    rows: list[dict[str, Any]]
    pagination: Pagination


def load_flagged(
    conn: psycopg.Connection,
    filters: FlaggedFilters,
    page: int,
    per_page: int,
    overdue_before: datetime,
) -> FlaggedListing:
    with snapshot(conn):
        summary = queue_summary(conn, overdue_before)
        rows, total = flagged_page(conn, filters, limit=per_page, offset=(page - 1) * per_page)
        pagination = Pagination(page, per_page, total)
        if not rows and total and page > pagination.pages:
            # Past the end (documents were resolved meanwhile): show the last page instead.
            page = pagination.pages
            offset = (page - 1) * per_page
            rows, total = flagged_page(conn, filters, limit=per_page, offset=offset)
            pagination = Pagination(page, per_page, total)
    return FlaggedListing(summary, rows, pagination)


def listing_context(
    listing: FlaggedListing,
    filters: FlaggedFilters,
    errors: list[str],
    now: datetime,
    settings: AppSettings,
) -> dict[str, Any]:
    rows: list[FlaggedRow] = [flagged_row(r, now, settings) for r in listing.rows]
    reason_choices = [
        (rule, label, listing.summary.by_reason.get(rule, 0))
        for rule, (label, _category) in REASONS.items()
    ]
    return {
        "rows": rows,
        "pagination": listing.pagination,
        "filters": filters,
        "filtered": is_filtered(filters),
        "errors": errors,
        "queue_total": listing.summary.count,
        "reason_choices": reason_choices,
        "query": flagged_query(filters),
        "page_query": lambda page: flagged_query(filters, page),
    }


async def _listing(request: Request) -> dict[str, Any]:
    require(request, Permission.VIEW_QUEUE)
    context = ctx(request)
    parsed = parse_flagged(request.query_params)
    listing = await db(
        request,
        load_flagged,
        parsed.filters,
        parsed.page,
        context.app_settings.page_size,
        _overdue_before(request),
    )
    return listing_context(
        listing, parsed.filters, parsed.errors, context.clock(), context.app_settings
    )


async def flagged_list(request: Request) -> Response:
    return render(request, "flagged.html", await _listing(request))


async def flagged_rows(request: Request) -> Response:
    """The list's table alone, for the page to swap in when flagged.items reports a change."""
    return render(request, "_flagged_table.html", await _listing(request))
