"""The JSON API beside the pages: the same data and the same actions, token or session."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import quote

import psycopg
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from domain.documents import DocumentView
from domain.read_audit import ReadChannel
from schemas.exact_json import loads_exact
from storage.db import snapshot
from storage.queue import action_outcome
from storage.read import document_extraction, document_resources, document_state
from storage.read import read_patient_bundle as read_bundle
from webapp import csrf
from webapp.actions import ActionInvalid, ActionNotSent, build_action
from webapp.auth import by_token, require
from webapp.context import ctx, db
from webapp.endpoints.queue import load_flagged
from webapp.endpoints.verify import max_correction_bytes, parse_action_id
from webapp.filters import parse_flagged
from webapp.present import describe_outcome
from webapp.queue_view import flagged_row
from webapp.read_audit import audit_read
from webapp.render import JSON, FhirJSON, doc_url
from webapp.roles import Permission

MAX_PER_PAGE = 500


def _not_found(document_id: str) -> Response:
    return JSON({"error": f"document {document_id} does not exist"}, status_code=404)


def _stored_id(value: str) -> bool:
    """An id PostgreSQL can hold (no NUL): anything else names nothing stored."""
    return "\x00" not in value


def _document(conn: psycopg.Connection, document_id: str) -> dict[str, Any] | None:
    with snapshot(conn):
        state = document_state(conn, document_id)
        if state is None:
            return None
        return {
            **state.model_dump(),
            "verify_url": doc_url(document_id),
            "extraction": document_extraction(conn, document_id),
            "resources": document_resources(conn, document_id),
        }


async def api_document(request: Request) -> Response:
    user = require(request, Permission.VIEW_QUEUE)
    document_id = request.path_params["document_id"]
    found = await db(request, _document, document_id) if _stored_id(document_id) else None
    if found is None:
        return _not_found(document_id)
    await audit_read(
        request,
        user,
        ReadChannel.API,
        "document",
        patients=[found["patient_id"]],
        documents=[document_id],
        count=len(found["resources"]),
    )
    return JSON(found)


STATUS_FIELDS = (
    "document_id",
    "patient_id",
    "processing_status",
    "review_status",
    "version",
    "extraction_version",
    "is_merged",
    "attempts",
    "error",
    "received_at",
    "merged_at",
    "failed_at",
    "processing_ms",
    "reviewer",
    "reviewed_at",
)


def _status(
    conn: psycopg.Connection, document_id: str, action_id: uuid.UUID | None
) -> tuple[DocumentView, dict[str, Any] | None] | None:
    with snapshot(conn):
        state = document_state(conn, document_id)
        if state is None:
            return None
        return state, action_outcome(conn, document_id, action_id) if action_id else None


async def api_status(request: Request) -> Response:
    """Processing status (docs/contract.md#processing-status), and with ?action_id= what
    became of that review action: state `applying` until the merge agent has decided, then
    `done` with its outcome."""
    require(request, Permission.VIEW_QUEUE)
    document_id = request.path_params["document_id"]
    raw_action = request.query_params.get("action_id")
    action_id = parse_action_id(raw_action)
    if raw_action and action_id is None:
        return JSON({"error": "action_id must be a UUID"}, status_code=400)
    if not _stored_id(document_id):
        return _not_found(document_id)
    found = await db(request, _status, document_id, action_id)
    if found is None:
        return _not_found(document_id)
    state, row = found
    fields = state.model_dump()
    body: dict[str, Any] = {key: fields[key] for key in STATUS_FIELDS}
    body["status"] = state.processing_status
    if action_id is not None:
        if row is None:
            body["action"] = {"action_id": str(action_id), "state": "applying"}
        else:
            told = describe_outcome(
                row["action"], row["outcome"], row["reason"], row["version_after"]
            )
            body["action"] = {
                **row,
                "state": "done",
                "conflict": row["outcome"] != "applied",
                "message": f"{told.title} {told.detail}",
            }
    return JSON(body)


async def api_bundle(request: Request) -> Response:
    user = require(request, Permission.VIEW_QUEUE)
    patient_id = request.path_params["patient_id"]
    bundle = await db(request, read_bundle, patient_id) if _stored_id(patient_id) else None
    if bundle is None:
        return JSON({"error": f"patient {patient_id} does not exist"}, status_code=404)
    await audit_read(
        request,
        user,
        ReadChannel.API,
        "bundle",
        patients=[patient_id],
        count=len(bundle.get("entry", [])),
    )
    return FhirJSON(bundle)


async def api_flagged(request: Request) -> Response:
    require(request, Permission.VIEW_QUEUE)
    context = ctx(request)
    parsed = parse_flagged(request.query_params)
    try:
        per_page = int(request.query_params.get("per_page", context.app_settings.page_size))
    except ValueError:
        return JSON({"error": "per_page must be a number"}, status_code=400)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    overdue_before = context.clock() - timedelta(days=context.app_settings.overdue_after_days)
    listing = await db(request, load_flagged, parsed.filters, parsed.page, per_page, overdue_before)
    now = context.clock()
    items = []
    for raw in listing.rows:
        row = flagged_row(raw, now, context.app_settings)
        items.append(
            {
                "document_id": row.document_id,
                "patient_id": row.patient_id,
                "patient_name": row.patient_name,
                "patient_known": row.patient_known,
                "title": row.title,
                "document_type": row.document_type,
                "version": row.version,
                "flag_reasons": [{"rule": r.rule, "text": r.text} for r in row.reasons],
                "confidence": row.confidence,
                "model": row.model,
                "resource_count": row.resource_count,
                "received_at": row.received,
                "age_seconds": int((now - row.received).total_seconds()),
                "age_band": row.band,
                "verify_url": row.url,
            }
        )
    pagination = listing.pagination
    return JSON(
        {
            "items": items,
            "total": pagination.total,
            "page": pagination.page,
            "pages": pagination.pages,
            "per_page": per_page,
            "queue_total": listing.summary.count,
            "errors": parsed.errors,
        }
    )


async def api_action(request: Request) -> Response:
    """202 Accepted: the action is on review.actions; poll status_url (or listen to the
    event stream) for the outcome."""
    user = require(request, Permission.ACT)
    if not by_token(request):
        # A session cookie rides along with any request the browser makes: prove intent.
        csrf.check(request.session, request.headers.get(csrf.HEADER))
    document_id = request.path_params["document_id"]
    try:
        # Exact decimals: corrected resources keep 0.010 as sent (docs/contract.md#input-contract).
        body = loads_exact(await request.body())
    except (ValueError, RecursionError):
        return JSON({"error": "the body must be a JSON object"}, status_code=400)
    if not isinstance(body, dict):
        return JSON({"error": "the body must be a JSON object"}, status_code=400)
    state = await db(request, document_state, document_id) if _stored_id(document_id) else None
    if state is None:
        return _not_found(document_id)
    try:
        action = build_action(user, state, body, max_bytes=max_correction_bytes(request))
    except ActionInvalid as exc:
        return JSON({"error": "invalid action", "problems": exc.problems}, status_code=422)
    context = ctx(request)
    if context.sender is None:
        raise RuntimeError("the action sender is not open")
    try:
        await run_in_threadpool(context.sender.send, action)
    except ActionNotSent as exc:
        return JSON(
            {"error": f"could not publish the action: {exc}; nothing was changed"},
            status_code=503,
        )
    context.metrics.actions_sent.labels(action.action.value).inc()
    status_url = f"/api/documents/{quote(document_id, safe='')}/status?action_id={action.action_id}"
    return JSON(
        {
            "action_id": str(action.action_id),
            "document_id": document_id,
            "action": action.action.value,
            "expected_version": action.expected_version,
            "status_url": status_url,
        },
        status_code=202,
        headers={"Location": status_url},
    )
