"""GET /events: Server-Sent Events from flagged.items (`flagged`) and document.status
(`status`), optionally for one document. Pages poll the JSON API when this is unavailable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from webapp.auth import require
from webapp.context import ctx
from webapp.live import DLQ, FLAGGED, KINDS, STATUS
from webapp.render import JSON
from webapp.roles import Permission

KEEPALIVE_SECONDS = 15.0


# What a role must hold to hear each kind: flagged items carry reason texts (patient data);
# status events and dead letters (without payload) only ids, times and errors.
KIND_PERMISSION = {
    FLAGGED: Permission.VIEW_QUEUE,
    STATUS: Permission.VIEW_STATUS,
    DLQ: Permission.VIEW_OPS,
}


async def events(request: Request) -> Response:
    user = require(request, Permission.VIEW_STATUS)
    context = ctx(request)
    if context.feed is None:
        return JSON({"error": "live updates are off; poll the API instead"}, status_code=503)
    allowed = frozenset(k for k in KINDS if user.can(KIND_PERMISSION[k]))
    wanted = request.query_params.get("kinds", ",".join(sorted(allowed)))
    kinds = frozenset(k for k in wanted.split(",") if k in allowed)
    if not kinds:
        return JSON({"error": f"no event kind you may hear among {wanted!r}"}, status_code=403)
    document_id = request.query_params.get("document_id") or None
    hub = context.hub
    gauge = context.metrics.live_clients

    async def stream() -> AsyncIterator[bytes]:
        with hub.subscribe(kinds=kinds, document_id=document_id) as subscription:
            gauge.inc()
            try:
                # The browser reconnects after 3 s if the stream drops.
                yield b"retry: 3000\n: connected\n\n"
                while True:
                    try:
                        event = await asyncio.wait_for(
                            subscription.queue.get(), timeout=KEEPALIVE_SECONDS
                        )
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    yield event.sse()
            finally:
                gauge.dec()

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"X-Accel-Buffering": "no"},
    )
