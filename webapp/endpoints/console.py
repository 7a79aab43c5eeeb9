"""GET /ops/: the operator console (operators and admins): the pipeline's figures over a range
of time against the PRD targets, and its health now."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.console import RANGES, time_range
from pipeline.health import check_health
from storage.metrics_store import buckets
from webapp.auth import require
from webapp.console_view import console_view
from webapp.context import ctx, db
from webapp.endpoints.ops import pool_ping
from webapp.render import render
from webapp.roles import Permission


def _moment(raw: str | None) -> datetime | None:
    """A datetime-local field's value (no zone: UTC), or None."""
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def console(request: Request) -> Response:
    require(request, Permission.VIEW_OPS)
    context = ctx(request)
    query = request.query_params
    errors: list[str] = []
    since, until = _moment(query.get("from")), _moment(query.get("to"))
    key = query.get("range", "hour")
    if key == "custom" and since is None:
        errors.append("A custom range needs a start: showing the last hour.")
    try:
        tr = time_range(key, context.clock(), since, until)
    except ValueError as exc:
        errors.append(f"{exc}: showing the last hour.")
        tr = time_range("hour", context.clock())
    rows = await db(request, buckets, tr.since, tr.until, tr.bucket_seconds)
    report = await run_in_threadpool(
        lambda: check_health(context.settings, ping=lambda: pool_ping(context), clock=context.clock)
    )
    return render(
        request,
        "console.html",
        {
            "view": console_view(tr, rows, report),
            "ranges": [*RANGES, "custom"],
            "errors": errors,
            "from_value": since.strftime("%Y-%m-%dT%H:%M") if since else "",
            "to_value": until.strftime("%Y-%m-%dT%H:%M") if until else "",
        },
    )
