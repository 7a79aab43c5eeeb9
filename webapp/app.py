"""The app factory: routes, middleware, error pages, and the lifespan that opens the database
pool, the Kafka producer for review actions and the live feed."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from config import ResolvedSettings
from pipeline.signatures import SigningConfigError, load_signer
from schemas.events import Clock, utc_now
from streams.topics import Topics
from webapp.auth import AuthMiddleware, Forbidden
from webapp.context import AppContext
from webapp.csrf import CsrfError
from webapp.endpoints import (
    admin,
    api,
    audit,
    console,
    dlq,
    live,
    openapi,
    ops,
    queue,
    session,
    status_page,
    thresholds,
    verify,
)
from webapp.fhir.outcome import is_fhir, outcome
from webapp.fhir.routes import routes as fhir_routes
from webapp.hosts import AllowedHosts
from webapp.metrics import AppMetrics, QueueCollector, RequestMetrics
from webapp.render import STATIC_DIR, error, make_templates
from webapp.roles import Permission
from webapp.security import SecurityHeaders
from webapp.settings import AppConfigError, AppSettings, resolve_metrics_token, resolve_secret
from webapp.throttle import LoginThrottle

log = logging.getLogger(__name__)

SESSION_COOKIE = "optimerge_session"


def routes() -> list[BaseRoute]:
    return [
        Route("/", queue.dashboard, name="dashboard"),
        Route("/widget", queue.widget_fragment),
        Route("/login", session.login_form, methods=["GET"]),
        Route("/login", session.login_submit, methods=["POST"]),
        Route("/logout", session.logout, methods=["POST"]),
        Route("/documents/flagged/", queue.flagged_list, name="flagged"),
        Route("/documents/flagged/rows", queue.flagged_rows),
        Route("/documents/{document_id:path}/verify/", verify.verify_page),
        Route("/documents/{document_id:path}/status/panel", status_page.status_panel),
        Route("/documents/{document_id:path}/status/", status_page.status_page),
        Route("/documents/{document_id:path}/actions", verify.submit_action, methods=["POST"]),
        Route("/audit/", audit.audit_view),
        Route("/audit/reads/", audit.reads_view),
        Route("/admin/users/", admin.users_page, methods=["GET"]),
        Route("/admin/users/", admin.add_user, methods=["POST"]),
        Route("/events", live.events),
        Route("/api/flagged", api.api_flagged),
        # Ids may hold a slash (they come from extractors): the longer routes match first.
        Route("/api/documents/{document_id:path}/status", api.api_status),
        Route("/api/documents/{document_id:path}/actions", api.api_action, methods=["POST"]),
        Route("/api/documents/{document_id:path}", api.api_document),
        Route("/api/patients/{patient_id:path}/bundle", api.api_bundle),
        Route("/api/audit", audit.api_audit),
        Route("/api/audit/reads", audit.api_reads),
        Route("/ops/", console.console, name="console"),
        Route("/ops/thresholds/", thresholds.thresholds_page),
        Route("/ops/thresholds/versions", thresholds.save_recommendation, methods=["POST"]),
        Route("/ops/thresholds/apply", thresholds.apply_version, methods=["POST"]),
        Route("/ops/dlq/", dlq.dlq_page),
        Route("/ops/dlq/retries", dlq.retries_fragment),
        Route("/ops/dlq/letters/{ref}", dlq.letter_page),
        Route("/ops/dlq/retry", dlq.retry, methods=["POST"]),
        Route("/api/dlq/stats", dlq.api_dlq_stats),
        Route("/openapi.json", openapi.openapi_json),
        *fhir_routes(),
        Route("/healthz", ops.healthz),
        Route("/readyz", ops.readyz),
        Route("/api/health", ops.api_health),
        Route("/metrics", ops.metrics),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ]


_PERMISSION_TEXT = {
    Permission.VIEW_QUEUE: "see the flagged documents",
    Permission.ACT: "act on documents (reviewers and admins do)",
    Permission.VIEW_AUDIT: "read the audit trail (auditors and admins do)",
    Permission.MANAGE_USERS: "manage accounts (admins do)",
    Permission.VIEW_STATUS: "see a document's processing status",
    Permission.VIEW_OPS: "use the operator console (operators and admins do)",
    Permission.RETRY_DEAD_LETTERS: "retry dead letters (operators and admins do)",
    Permission.VIEW_DEAD_LETTER_PAYLOAD: "read a dead letter's payload, which holds patient data "
    "(admins do)",
    Permission.READ_RECORDS: "read patient records over FHIR",
    Permission.MANAGE_RULE_SETS: "store or activate rule-set versions (admins do)",
}


async def _forbidden(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Forbidden)
    return error(
        request,
        403,
        "Not allowed",
        f"You are logged in as {exc.user.name} ({exc.user.role}), who may not "
        f"{_PERMISSION_TEXT[exc.permission]}. Ask an admin if you need this.",
    )


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    return error(
        request,
        403,
        "Form expired",
        "This form was refused because it did not carry this session's security token (it "
        "may be from an old page, or from another site). Go back, reload the page and try "
        "again.",
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if is_fhir(request.url.path):
        return outcome(exc.status_code, str(exc.detail), headers=exc.headers)
    if exc.status_code == 404:
        return error(
            request,
            404,
            "Page not found",
            "There is no page at this address. Use the menu to find your way.",
        )
    if exc.status_code == 405:
        refused = error(request, 405, "Not allowed here", "This address does not take that method.")
        refused.headers.update(exc.headers or {})  # Allow: the methods it does take
        return refused
    if exc.status_code == 413:
        return error(request, 413, "Too large", "The request body is too large.")
    return error(request, exc.status_code, "Request refused", str(exc.detail))


async def _server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s", request.url.path, exc_info=exc)
    if is_fhir(request.url.path):
        return outcome(500, "the server hit an unexpected error; the app's log has details")
    return error(
        request,
        500,
        "Something went wrong",
        "The app hit an unexpected error; nothing was sent. Try again; if it persists, tell an "
        "operator (the app's log has the details).",
    )


def create_app(
    settings: ResolvedSettings,
    app_settings: AppSettings,
    *,
    registry: CollectorRegistry | None = None,
    clock: Clock = utc_now,
) -> Starlette:
    """A reviewer app on `settings`' database and topics; nothing opens until its lifespan
    starts (uvicorn, or `with TestClient(app)`). Raises AppConfigError (what to change) for a
    weak session key, a missing signing key, or keys that cannot be read."""
    registry = registry if registry is not None else CollectorRegistry()
    secret = resolve_secret(app_settings, settings.infra.state_dir)
    try:
        signer = load_signer(settings.signing)
    except SigningConfigError as exc:
        raise AppConfigError(str(exc)) from exc
    if signer is None:
        raise AppConfigError(
            "the app signs every review action it sends, and has no key: set "
            "OPTIMERGE_SIGNING__KEY_FILE to its Ed25519 private key (PEM; `optimerge infra up` "
            "makes one locally, see README: Security)"
        )
    context = AppContext(
        settings=settings,
        app_settings=app_settings,
        topics=Topics(settings.topic_prefix),
        clock=clock,
        templates=make_templates(),
        metrics=AppMetrics.create(registry),
        registry=registry,
        throttle=LoginThrottle(clock),
        keyring=settings.audit_keyring(),
        signer=signer,
        metrics_token=resolve_metrics_token(app_settings, settings.infra.state_dir),
    )
    registry.register(QueueCollector(context.queue_summary, clock))
    secure = not app_settings.insecure_http

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            await run_in_threadpool(context.open)
        except BaseException:
            await run_in_threadpool(context.close)
            raise
        try:
            yield
        finally:
            await run_in_threadpool(context.close)

    app = Starlette(
        routes=routes(),
        middleware=[
            Middleware(AllowedHosts, allowed=app_settings.allowed_hosts),
            Middleware(SecurityHeaders, hsts=secure),
            Middleware(RequestMetrics, metrics=context.metrics),
            Middleware(
                SessionMiddleware,
                secret_key=secret.get_secret_value(),
                session_cookie=SESSION_COOKIE,
                max_age=app_settings.session_max_age_seconds,
                same_site="lax",
                https_only=secure,
            ),
            Middleware(AuthMiddleware),
        ],
        exception_handlers={
            Forbidden: _forbidden,
            CsrfError: _csrf_refused,
            HTTPException: _http_error,
            Exception: _server_error,
        },
        lifespan=lifespan,
        max_body_size=app_settings.max_body_bytes,
    )
    app.state.ctx = context
    return app
