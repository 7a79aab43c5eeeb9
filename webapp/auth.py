"""Who is asking: a server-side session (pages; webapp/sessions.py) or an API token
(Authorization: Bearer), looked up in PostgreSQL on every request.

Deny by default: the middleware refuses every path but a short public list before any endpoint
runs (pages: 302 to the login page; API and event stream: 401); endpoints then check the role's
permission."""

from __future__ import annotations

from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from storage.accounts import UserRow, user_for_token
from webapp import sessions
from webapp.context import AppContext
from webapp.fhir.outcome import is_fhir, outcome
from webapp.passwords import token_digest
from webapp.roles import Permission, Role, User

# /fhir/metadata and /openapi.json describe the APIs (no patient data); FHIR clients read the
# CapabilityStatement before they authenticate. /readyz is for load balancers.
PUBLIC_PATHS = frozenset(
    {
        "/login",
        "/healthz",
        "/readyz",
        "/metrics",
        "/favicon.ico",
        "/fhir/metadata",
        "/openapi.json",
    }
)
PUBLIC_PREFIXES = ("/static/",)
# Answered with 401 rather than a redirect: programs and the browser's EventSource ask these.
API_PREFIXES = ("/api/", "/events", "/fhir/")


class Forbidden(Exception):
    def __init__(self, user: User, permission: Permission) -> None:
        super().__init__(f"{user.name} ({user.role}) may not {permission}")
        self.user = user
        self.permission = permission


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_api(path: str) -> bool:
    return path.startswith(API_PREFIXES)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never `//host` or a full URL (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _bearer(conn: HTTPConnection) -> str | None:
    header = conn.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _resolve(context: AppContext, token: str | None, conn: HTTPConnection) -> User | None:
    row: UserRow | None
    if token is not None:
        row = context.run_db(user_for_token, token_digest(token), context.clock())
    else:
        row = sessions.current(context, conn.session)
    return None if row is None else User(row.name, Role(row.role))


def unauthenticated(path: str, query: str) -> Response:
    if is_fhir(path):
        return outcome(
            401,
            "not logged in: send 'Authorization: Bearer <token>' (optimerge users token NAME)",
            headers={"WWW-Authenticate": 'Bearer realm="optimerge"'},
        )
    if is_api(path):
        return JSONResponse(
            {
                "error": "not logged in: log in to the app, or send "
                "'Authorization: Bearer <token>' (optimerge users token NAME)"
            },
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="optimerge"'},
        )
    target = path + (f"?{query}" if query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=302)


class AuthMiddleware:
    """Inside SessionMiddleware: sets scope['state']['user'] (and 'auth': session or token)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope["path"]):
            await self.app(scope, receive, send)
            return
        conn = HTTPConnection(scope)
        context: AppContext = scope["app"].state.ctx
        token = _bearer(conn)
        user = await run_in_threadpool(_resolve, context, token, conn)
        if user is None:
            if token is None and conn.session.get(sessions.SESSION_ID):
                conn.session.clear()  # ended, idle or its account gone: forget it
            response = unauthenticated(scope["path"], scope.get("query_string", b"").decode())
            await response(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["user"] = user
        state["auth"] = "token" if token else "session"
        await self.app(scope, receive, send)


def current_user(request: Request) -> User | None:
    user = getattr(request.state, "user", None)
    return user if isinstance(user, User) else None


def require(request: Request, permission: Permission) -> User:
    user = current_user(request)
    if user is None:  # the middleware let a public path through: never for these endpoints
        raise RuntimeError(f"{request.url.path} is guarded but not behind AuthMiddleware")
    if not user.can(permission):
        raise Forbidden(user, permission)
    return user


def by_token(request: Request) -> bool:
    return getattr(request.state, "auth", None) == "token"
