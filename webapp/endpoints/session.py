"""Logging in and out."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storage.accounts import get_user, update_password_hash
from webapp import csrf
from webapp.auth import login_session, logout_session, safe_next
from webapp.context import ctx, db
from webapp.passwords import hash_password, needs_rehash, verify_password
from webapp.render import render
from webapp.roles import Role, User

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

    def refuse(message: str) -> Response:
        context.metrics.logins.labels("refused").inc()
        page = {"next": target, "name": name, "error": message, "notice": None}
        return render(request, "login.html", page, status=401)

    wait = context.throttle.blocked_for(name)
    if wait is not None:
        minutes = max(1, round(wait.total_seconds() / 60))
        return refuse(
            f"Too many failed attempts for this account. Wait {minutes} min and try again."
        )
    row = await db(request, get_user, name) if name else None
    ok = await run_in_threadpool(verify_password, row.password_hash if row else None, password)
    if row is None or not ok:
        context.throttle.failed(name)
        return refuse(WRONG)
    context.throttle.succeeded(name)
    if needs_rehash(row.password_hash):
        new_hash = await run_in_threadpool(hash_password, password)
        await db(request, update_password_hash, row.name, new_hash)
    login_session(request.session, User(row.name, Role(row.role)))
    context.metrics.logins.labels("ok").inc()
    return RedirectResponse(target, status_code=303)


async def logout(request: Request) -> Response:
    form = await request.form()
    csrf.check(request.session, form.get(csrf.FORM_FIELD))
    logout_session(request.session)
    return RedirectResponse("/login?out=1", status_code=303)
