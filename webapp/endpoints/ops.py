"""GET /healthz (liveness), /readyz (readiness), /metrics for load balancers and Prometheus
without login; GET /api/health, the whole pipeline's health, for operators
(docs/contract.md#health)."""

from __future__ import annotations

import psycopg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from pipeline.health import check_database, check_health, check_kafka
from webapp.auth import require
from webapp.context import AppContext, NotReadyError, ctx
from webapp.render import JSON
from webapp.roles import Permission


def _ping(conn: psycopg.Connection) -> bool:
    return conn.execute("SELECT 1").fetchone() == (1,)


def pool_ping(context: AppContext) -> None:
    """The app's own way to the database: a pooled connection (raises when it does not answer)."""
    if not context.run_db(_ping):
        raise NotReadyError("the database did not answer SELECT 1")


async def healthz(request: Request) -> Response:
    """Liveness: the process answers and its database pool does (cheap: no Kafka call)."""
    context = ctx(request)
    try:
        database = await run_in_threadpool(context.run_db, _ping)
    except (psycopg.Error, NotReadyError, TimeoutError):
        database = False
    feed = context.feed
    live = "off" if feed is None else "ready" if feed.ready else "starting"
    body = {"status": "ok" if database else "unavailable", "database": database, "live": live}
    return JSON(body, status_code=200 if database else 503)


async def readyz(request: Request) -> Response:
    """Readiness: the app can serve, i.e. PostgreSQL and Kafka both answer now."""
    context = ctx(request)
    database = await run_in_threadpool(check_database, lambda: pool_ping(context))
    kafka = await run_in_threadpool(check_kafka, context.settings, 3.0)
    ready = database.status == "ok" and kafka.status == "ok"
    body = {
        "status": "ready" if ready else "unavailable",
        "postgresql": {"status": database.status, "summary": database.summary},
        "kafka": {"status": kafka.status, "summary": kafka.summary},
    }
    return JSON(body, status_code=200 if ready else 503)


async def api_health(request: Request) -> Response:
    """Every component; 200 when all are ok, 503 when any is down (the body says which)."""
    require(request, Permission.VIEW_OPS)
    context = ctx(request)
    report = await run_in_threadpool(
        lambda: check_health(context.settings, ping=lambda: pool_ping(context), clock=context.clock)
    )
    return JSON(report.as_json(), status_code=200 if report.ok else 503)


async def metrics(request: Request) -> Response:
    registry = ctx(request).registry
    payload = await run_in_threadpool(generate_latest, registry)
    return Response(payload, media_type=CONTENT_TYPE_LATEST)
