"""GET /documents/<id>/status/: a document's processing status (PENDING, PROCESSING, COMPLETE or
FAILED, with times, attempts and the error), updated live; no patient data, so operators see it
too (docs/contract.md#processing-status)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from domain.documents import DocumentView
from storage.read import document_state
from webapp.auth import require
from webapp.context import db
from webapp.render import render
from webapp.roles import Permission

STEPS = ("PENDING", "PROCESSING", "COMPLETE")


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    state: str  # done, current, failed, todo
    at: Any


def steps(state: DocumentView | None) -> list[Step]:
    """The path a document takes; the worker writes PROCESSING and the outcome at once."""
    if state is None:
        return [Step("PENDING", "current", None), Step("PROCESSING", "todo", None),
                Step("COMPLETE", "todo", None)]  # fmt: skip
    status = state.processing_status
    if status == "PENDING":
        return [Step("PENDING", "current", state.created_at), Step("PROCESSING", "todo", None),
                Step("COMPLETE", "todo", None)]  # fmt: skip
    last = (
        Step("FAILED", "failed", state.failed_at)
        if status == "FAILED"
        else Step("COMPLETE", "current" if status == "PROCESSING" else "done", state.merged_at)
    )
    return [
        Step("PENDING", "done", state.created_at),
        Step("PROCESSING", "done", state.received_at),
        last,
    ]


async def _context(request: Request) -> dict[str, Any]:
    require(request, Permission.VIEW_STATUS)
    document_id = request.path_params["document_id"]
    state = await db(request, document_state, document_id)
    return {"document_id": document_id, "state": state, "steps": steps(state)}


async def status_page(request: Request) -> Response:
    return render(request, "status.html", await _context(request))


async def status_panel(request: Request) -> Response:
    return render(request, "_status_panel.html", await _context(request))
