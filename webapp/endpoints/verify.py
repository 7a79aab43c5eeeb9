"""The verify page and its three actions, sent as ReviewAction events through the stream."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from domain.read_audit import ReadChannel
from storage.read import document_state
from webapp import csrf
from webapp.actions import ActionInvalid, ActionNotSent, build_action
from webapp.auth import current_user, require
from webapp.context import ctx, db
from webapp.present import ACTION_LABELS, describe_outcome
from webapp.read_audit import audit_read
from webapp.render import doc_url, error, render
from webapp.roles import Permission
from webapp.verify_view import load_verify, verify_view

# Room left for the event's envelope within the merge agent's size limit.
ENVELOPE_BYTES = 16 * 1024


def parse_action_id(raw: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw) if raw else None
    except ValueError:
        return None


def _int_or_none(value: object) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def max_correction_bytes(request: Request) -> int:
    return ctx(request).settings.max_event_bytes - ENVELOPE_BYTES


async def _render_verify(
    request: Request,
    document_id: str,
    *,
    action_id: uuid.UUID | None = None,
    pending_action: str | None = None,
    errors: list[str] | None = None,
    editor_text: str | None = None,
    note: str = "",
    seen_version: int | None = None,
    status: int = 200,
) -> Response:
    data = await db(request, load_verify, document_id, action_id)
    if data is None:
        return error(
            request,
            404,
            "Document not found",
            f"There is no document {document_id}. It may not have been processed yet; "
            "check the id, or go back to the flagged list.",
        )
    user = current_user(request)
    if user is not None:  # always: the page needs VIEW_QUEUE
        await audit_read(
            request,
            user,
            ReadChannel.PAGE,
            "verify_page",
            patients=[data.state.patient_id],
            documents=[document_id],
            count=len(data.resources),
        )
    view = verify_view(data, editor_text)
    outcome = None
    if action_id is not None:
        row = data.outcome
        if row is not None:
            outcome = describe_outcome(
                row["action"], row["outcome"], row["reason"], row["version_after"]
            )
        else:
            outcome = describe_outcome(pending_action or "", None, None, None)
    return render(
        request,
        "verify.html",
        {
            "view": view,
            "outcome": outcome,
            "action_id": str(action_id) if action_id else None,
            "applying": outcome is not None and outcome.level == "pending",
            "errors": errors or [],
            "note": note,
            # A form shown again keeps the version the reviewer saw: if the document changed
            # meanwhile, the merge agent must still refuse, not apply over unseen changes.
            "seen_version": view.version if seen_version is None else seen_version,
            "applied_row": data.outcome,
        },
        status=status,
    )


async def verify_page(request: Request) -> Response:
    require(request, Permission.VIEW_QUEUE)
    document_id = request.path_params["document_id"]
    action_id = parse_action_id(request.query_params.get("action"))
    return await _render_verify(
        request,
        document_id,
        action_id=action_id,
        pending_action=request.query_params.get("kind", ""),
    )


async def submit_action(request: Request) -> Response:
    user = require(request, Permission.ACT)
    form = await request.form()
    csrf.check(request.session, form.get(csrf.FORM_FIELD))
    document_id = request.path_params["document_id"]
    fields: dict[str, Any] = {k: form.get(k) for k in form}
    state = await db(request, document_state, document_id)
    if state is None:
        return error(request, 404, "Document not found", f"There is no document {document_id}.")
    editor_text = str(fields.get("corrected_resources") or "") or None
    note = str(fields.get("note") or "")
    seen = _int_or_none(fields.get("expected_version"))
    try:
        action = build_action(user, state, fields, max_bytes=max_correction_bytes(request))
    except ActionInvalid as exc:
        return await _render_verify(
            request,
            document_id,
            errors=exc.problems,
            editor_text=editor_text,
            note=note,
            seen_version=seen,
            status=422,
        )
    if action.action == "rollback" and fields.get("confirmed") != "yes":
        # Without JavaScript there was no confirm dialog: ask on a page of its own.
        return render(
            request,
            "confirm_rollback.html",
            {
                "document_id": document_id,
                "state": state,
                "expected_version": action.expected_version,
                "note": action.note,
            },
        )
    context = ctx(request)
    sender = context.sender
    if sender is None:
        raise RuntimeError("the action sender is not open")
    try:
        await run_in_threadpool(sender.send, action)
    except ActionNotSent as exc:
        return await _render_verify(
            request,
            document_id,
            errors=[
                f"“{ACTION_LABELS[action.action]}” could not be handed to Kafka ({exc}). "
                "Nothing was changed. Try again in a minute; if it keeps failing, tell an "
                "operator."
            ],
            editor_text=editor_text,
            note=note,
            seen_version=seen,
            status=503,
        )
    context.metrics.actions_sent.labels(action.action.value).inc()
    target = f"{doc_url(document_id)}?action={action.action_id}&kind={action.action.value}"
    return RedirectResponse(target + "#outcome", status_code=303)
