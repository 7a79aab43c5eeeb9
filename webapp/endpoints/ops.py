"""GET /healthz and GET /metrics: for load balancers and Prometheus, without login."""

from __future__ import annotations

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
    context = ctx(request)
    try:
        database = await run_in_threadpool(context.run_db, _ping)
    except (psycopg.Error, NotReadyError, TimeoutError):
        database = False
    feed = context.feed
    live = "off" if feed is None else "ready" if feed.ready else "starting"
    body = {"status": "ok" if database else "unavailable", "database": database, "live": live}
    return JSON(body, status_code=200 if database else 503)


async def metrics(request: Request) -> Response:
    registry = ctx(request).registry
    payload = await run_in_threadpool(generate_latest, registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
