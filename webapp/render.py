"""Templates (Jinja2, autoescaped), JSON responses and the error answers of pages and API."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from schemas.exact_json import dumps_for_display
from webapp import csrf, present
from webapp.auth import current_user, is_api
from webapp.roles import Permission

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"
PRODUCT = "optimerge review"


class JSON(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps_for_display(content, option=orjson.OPT_NON_STR_KEYS)


class FhirJSON(JSON):
    media_type = "application/fhir+json"


def doc_url(document_id: str, page: str = "verify/") -> str:
    return f"/documents/{quote(document_id, safe='')}/{page}"


def _common(request: Request) -> dict[str, Any]:
    user = current_user(request)
    return {
        "user": user,
        "can_act": bool(user and user.can(Permission.ACT)),
        "can_queue": bool(user and user.can(Permission.VIEW_QUEUE)),
        "can_ops": bool(user and user.can(Permission.VIEW_OPS)),
        "can_audit": bool(user and user.can(Permission.VIEW_AUDIT)),
        "can_manage": bool(user and user.can(Permission.MANAGE_USERS)),
        "csrf_token": csrf.session_token(request.session),
        "path": request.url.path,
    }


def make_templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        dt=present.format_dt,
        reason_label=present.reason_label,
        reason_category=present.reason_category,
        status_label=lambda s: present.status_label(str(s)),
        action_label=lambda a: present.action_label(str(a)),
        audit_action_label=lambda a: present.audit_action_label(str(a)),
        percent=lambda v: "–" if v is None else f"{float(v) * 100:.0f} %",
        doc_url=doc_url,
        urlquote=lambda v: quote(str(v), safe=""),
    )
    env.globals.update(product=PRODUCT)
    return Jinja2Templates(env=env, context_processors=[_common])


def render(request: Request, name: str, context: dict[str, Any], *, status: int = 200) -> Response:
    templates: Jinja2Templates = request.app.state.ctx.templates
    return templates.TemplateResponse(request, name, context, status_code=status)


def error(request: Request, status: int, title: str, message: str) -> Response:
    """An error a person can act on: a page, or JSON for the API."""
    if is_api(request.url.path):
        return JSON({"error": message}, status_code=status)
    return render(
        request, "error.html", {"title": title, "message": message, "status": status}, status=status
    )
