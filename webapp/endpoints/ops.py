"""GET /healthz (up or down, nothing more) and GET /metrics (only with the scrape token)."""

from __future__ import annotations

import hmac

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from webapp.context import NotReadyError, ctx
from webapp.render import JSON


def _ping(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT 1").fetchone() == (1,)


async def healthz(request: Request) -> Response:
    """Public: whether the app can serve (it reaches its database); no versions, no names."""
    context = ctx(request)
    try:
        up = await run_in_threadpool(context.run_db, _ping)
    except (psycopg.Error, NotReadyError, TimeoutError):
        up = False
    return JSON({"status": "ok" if up else "unavailable"}, status_code=200 if up else 503)


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


async def metrics(request: Request) -> Response:
    """Login counts, routes and queue sizes are for the monitoring system only."""
    context = ctx(request)
    expected = context.metrics_token.get_secret_value().encode()
    if not hmac.compare_digest(_bearer(request).encode(), expected):
        return JSON(
            {"error": "send the scrape token: Authorization: Bearer <OPTIMERGE_APP_METRICS_TOKEN>"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="optimerge-metrics"'},
        )
    payload = await run_in_threadpool(generate_latest, context.registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
