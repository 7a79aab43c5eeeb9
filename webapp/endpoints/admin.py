"""Admin only: the accounts, and adding one."""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from storage.accounts import UserExistsError, create_user, list_users
from webapp import csrf
from webapp.auth import require
from webapp.context import db
from webapp.passwords import check_name, check_password, hash_password
from webapp.render import render
from webapp.roles import Permission, Role, parse_role


async def _page(
    request: Request,
    *,
    errors: list[str] | None = None,
    notice: str | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    users = await db(request, list_users)
    return render(
        request,
        "users.html",
        {
            "users": users,
            "roles": [r.value for r in Role],
            "errors": errors or [],
            "notice": notice,
            "form": form or {"name": "", "role": Role.REVIEWER.value},
        },
        status=status,
    )


async def users_page(request: Request) -> Response:
    require(request, Permission.MANAGE_USERS)
    added = request.query_params.get("added")
    notice = f"Account {added} was added. Tell them their password in person." if added else None
    return await _page(request, notice=notice)


async def add_user(request: Request) -> Response:
    require(request, Permission.MANAGE_USERS)
    form = await request.form()
    csrf.check(request.session, form.get(csrf.FORM_FIELD))
    name = str(form.get("name", "")).strip()
    role_text = str(form.get("role", ""))
    password = str(form.get("password", ""))
    errors = [e for e in (check_name(name), check_password(password)) if e]
    try:
        role = parse_role(role_text)
    except ValueError as exc:
        errors.append(str(exc))
        role = Role.REVIEWER
    keep = {"name": name, "role": role.value}
    if errors:
        return await _page(request, errors=errors, form=keep, status=422)
    password_hash = await run_in_threadpool(hash_password, password)
    try:
        await db(request, create_user, name, role.value, password_hash)
    except UserExistsError:
        return await _page(
            request, errors=[f"An account named {name} exists already."], form=keep, status=409
        )
    return RedirectResponse(f"/admin/users/?added={quote(name)}", status_code=303)
