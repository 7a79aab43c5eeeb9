"""Logging in and out."""

from __future__ import annotations

from functools import partial

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storage.accounts import get_user, update_password_hash
from webapp import csrf, sessions
from webapp.auth import safe_next
from webapp.context import ctx, db
from webapp.passwords import hash_password, needs_rehash, verify_password
from webapp.render import render

WRONG = (
    "That name and password do not match an account. Check both and try again; "
    "if you forgot your password, ask an admin to set a new one."
)


async def login_form(request: Request) -> Response:
    notice = "You are logged out." if request.query_params.get("out") else None
    return render(
        request,
        "login.html",
        {
            "next": safe_next(request.query_params.get("next")),
            "name": "",
            "error": None,
            "notice": notice,
        },
    )


async def login_submit(request: Request) -> Response:
    form = await request.form()
    csrf.check(request.session, form.get(csrf.FORM_FIELD))
    name = str(form.get("name", "")).strip()[:64]
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "/")))
    context = ctx(request)

    def refuse(message: str, status: int = 401, seconds: int | None = None) -> Response:
        context.metrics.logins.labels("refused").inc()
        page = {"next": target, "name": name, "error": message, "notice": None}
        response = render(request, "login.html", page, status=status)
        if seconds is not None:
            response.headers["Retry-After"] = str(seconds)
        return response

    address = request.client.host if request.client else "unknown"
    throttle = context.throttle
    wait = await db(request, throttle.blocked_for, name, address)
    if wait is not None:
        seconds = max(1, int(wait.total_seconds() + 0.999))
        return refuse(
            f"Too many failed attempts from here. Wait {seconds} s and try again.", 429, seconds
        )
    row = await db(request, get_user, name) if name else None
    ok = await run_in_threadpool(verify_password, row.password_hash if row else None, password)
    if row is None or not ok:
        await db(request, throttle.failed, name, address)
        return refuse(WRONG)
    await db(request, throttle.succeeded, name, address)
    if needs_rehash(row.password_hash):
        new_hash = await run_in_threadpool(hash_password, password)
        await db(request, partial(update_password_hash, end_sessions=False), row.name, new_hash)
    await run_in_threadpool(sessions.start, context, request.session, row.name, address)
    context.metrics.logins.labels("ok").inc()
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    csrf.check(request.session, form.get(csrf.FORM_FIELD))
    await run_in_threadpool(sessions.end, ctx(request), request.session)
    return RedirectResponse("/login?out=1", status_code=303)
