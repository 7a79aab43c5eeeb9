"""Dead letters in the app (docs/contract.md#dead-letters): the list with filters and counts,
one letter (its payload for admins only: it is the event as sent, patient data), retries of one,
a selection or all of a kind through the stream, their outcome live, and GET /api/dlq/stats."""

from __future__ import annotations

from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from config import KafkaEndpoint
from domain.dead_letter_stats import dead_letter_stats
from domain.read_audit import ReadChannel
from pipeline.retries import RetryNotSentError, retry_dead_letters
from storage.dlq_retries import recent_retries, retries_of
from streams.dead_letters import LetterFilter, StoredLetter, read_dead_letters
from webapp import csrf
from webapp.auth import require
from webapp.context import AppContext, ctx, db
from webapp.dlq_view import KIND_LABELS, KINDS, new_letters, parse_filter, retry_outcome
from webapp.read_audit import audit_read
from webapp.render import JSON, error, render
from webapp.roles import Permission

MAX_LISTED = 500


def _console(context: AppContext) -> KafkaEndpoint:
    """The console's own Kafka identity: dead letters are the operator principal's to read."""
    console = context.console_kafka
    if console is None:
        raise HTTPException(
            503,
            "The dead letters are read as the operator principal, and this app has none: set "
            "OPTIMERGE_APP_CONSOLE_KAFKA__SASL_USERNAME and _SASL_PASSWORD_FILE (README: "
            "Security).",
        )
    return console


def _all_letters(context: AppContext) -> list[StoredLetter]:
    return list(read_dead_letters(_console(context), context.topics.dlq, timeout=10))


async def _letters(request: Request) -> list[StoredLetter]:
    return await run_in_threadpool(_all_letters, ctx(request))


async def _retries_context(request: Request, letters: list[StoredLetter]) -> dict[str, Any]:
    rows = await db(request, recent_retries, 20)
    rejected = new_letters(letters)
    return {"retries": [(row, retry_outcome(row, rejected)) for row in rows]}


async def dlq_page(request: Request) -> Response:
    user = require(request, Permission.VIEW_OPS)
    flt, shown = parse_filter(request.query_params)
    try:
        letters = await _letters(request)
    except (LookupError, TimeoutError) as exc:
        return error(request, 503, "Dead letters unavailable", f"Kafka did not answer: {exc}")
    matching = [s for s in letters if flt.matches(s)]
    listed = list(reversed(matching))[:MAX_LISTED]  # newest first
    retried = await db(request, retries_of, [s.ref for s in listed])
    return render(
        request,
        "dlq.html",
        {
            "letters": listed,
            "matching": len(matching),
            "stats": dead_letter_stats(s.letter for s in matching),
            "all_stats": dead_letter_stats(s.letter for s in letters),
            "filters": shown,
            "kinds": KINDS,
            "kind_labels": KIND_LABELS,
            "retried_rows": retried,
            "can_retry": user.can(Permission.RETRY_DEAD_LETTERS),
            "sent": request.query_params.get("sent"),
            **await _retries_context(request, letters),
        },
    )


async def retries_fragment(request: Request) -> Response:
    require(request, Permission.VIEW_OPS)
    letters = await _letters(request)
    return render(
        request,
        "_dlq_retries.html",
        {**await _retries_context(request, letters), "kind_labels": KIND_LABELS},
    )


async def letter_page(request: Request) -> Response:
    user = require(request, Permission.VIEW_OPS)
    ref = request.path_params["ref"]
    letters = await _letters(request)
    found = next((s for s in letters if s.ref == ref), None)
    if found is None:
        return error(request, 404, "No such dead letter", f"There is no dead letter {ref}.")
    retried = await db(request, retries_of, [ref])
    rejected = new_letters(letters)
    show_payload = user.can(Permission.VIEW_DEAD_LETTER_PAYLOAD)
    if show_payload:  # the event as sent: a document's patient data
        letter = found.letter
        await audit_read(
            request,
            user,
            ReadChannel.PAGE,
            "dlq_payload",
            patients=[letter.key] if letter.key else [],
            documents=[letter.document_id] if letter.document_id else [],
        )
    return render(
        request,
        "dlq_letter.html",
        {
            "stored": found,
            "kind_labels": KIND_LABELS,
            "show_payload": show_payload,
            "can_retry": user.can(Permission.RETRY_DEAD_LETTERS),
            "retry": retried.get(ref),
            "outcome": retry_outcome(retried[ref], rejected) if ref in retried else None,
        },
    )


async def retry(request: Request) -> Response:
    """Form: `ref` (one or more), or `all_of_kind`; `fixed_payload` (admins, one ref)."""
    user = require(request, Permission.RETRY_DEAD_LETTERS)
    form = await request.form()
    csrf.check(request.session, form.get(csrf.FORM_FIELD))
    refs = {str(r) for r in form.getlist("ref")}
    kind = str(form.get("all_of_kind") or "")
    fixed_raw = form.get("fixed_payload")
    fixed = str(fixed_raw).encode() if isinstance(fixed_raw, str) and fixed_raw.strip() else None
    if fixed is not None:
        require(request, Permission.VIEW_DEAD_LETTER_PAYLOAD)
    if not refs and kind not in KINDS:
        return error(request, 400, "Nothing to retry", "Tick the letters to retry, or pick a kind.")
    letters = await _letters(request)
    chosen = [
        s
        for s in letters
        if (s.ref in refs) or (kind and not refs and LetterFilter(kind=kind).matches(s))
    ]
    if not chosen:
        return error(request, 404, "Nothing to retry", "None of those dead letters exists.")
    if fixed is not None and len(chosen) != 1:
        return error(
            request, 400, "One letter only", "A fixed payload replaces exactly one letter."
        )
    context = ctx(request)
    try:
        await run_in_threadpool(
            lambda: retry_dead_letters(
                context.run_db,
                _console(context),
                chosen,
                user.name,
                keyring=context.keyring,
                fixed_payload=fixed,
                clock=context.clock,
            )
        )
    except RetryNotSentError as exc:
        return error(request, 503, "Not sent", f"{exc}. The retries are recorded as not sent.")
    return RedirectResponse(f"/ops/dlq/?sent={len(chosen)}#retries", status_code=303)


async def api_dlq_stats(request: Request) -> Response:
    require(request, Permission.VIEW_OPS)
    flt, _ = parse_filter(request.query_params)
    try:
        letters = await _letters(request)
    except (LookupError, TimeoutError) as exc:
        return JSON({"error": f"Kafka did not answer: {exc}"}, status_code=503)
    return JSON(dead_letter_stats(s.letter for s in letters if flt.matches(s)).as_json())
