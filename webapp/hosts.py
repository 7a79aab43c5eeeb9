"""Only the Host names the app is configured for (OPTIMERGE_APP_ALLOWED_HOSTS): a request for
another name (DNS rebinding, a poisoned Host header) is refused before anything runs. /healthz
answers any Host, since load balancers and probes dial the bare address; it says up or down."""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

ANY_HOST_PATHS = frozenset({"/healthz"})


def _host(value: str) -> str:
    if value.startswith("["):  # an IPv6 literal, maybe with a port
        return value[: value.find("]") + 1] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class AllowedHosts:
    def __init__(self, app: ASGIApp, allowed: Iterable[str]) -> None:
        self.app = app
        names = [name.strip().lower() for name in allowed if name.strip()]
        self.any = "*" in names
        self.exact = frozenset(n for n in names if not n.startswith("*."))
        self.suffixes = tuple(n[1:] for n in names if n.startswith("*."))

    def allows(self, host: str) -> bool:
        host = _host(host.strip().lower())
        return self.any or host in self.exact or (bool(host) and host.endswith(self.suffixes))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope.get("path") in ANY_HOST_PATHS:
            await self.app(scope, receive, send)
            return
        if self.allows(Headers(scope=scope).get("host", "")):
            await self.app(scope, receive, send)
            return
        response = PlainTextResponse("Invalid host header", status_code=400)
        await response(scope, receive, send)
