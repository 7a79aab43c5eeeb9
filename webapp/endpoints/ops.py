"""GET /healthz (liveness: up or down, nothing more), /readyz (readiness), /metrics (only with
the scrape token) for load balancers and Prometheus; GET /api/health, the whole pipeline's
health, for operators (docs/contract.md#health)."""

from __future__ import annotations

import hmac

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
    """Liveness, public: the process answers and its database pool does (no Kafka call); it
    says up or down, no versions, no names."""
    context = ctx(request)
    try:
        up = await run_in_threadpool(context.run_db, _ping)
    except (psycopg.Error, NotReadyError, TimeoutError):
        up = False
    return JSON({"status": "ok" if up else "unavailable"}, status_code=200 if up else 503)


def _bearer(request: Request) -> str:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


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
