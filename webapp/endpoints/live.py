"""GET /events: Server-Sent Events from flagged.items (`flagged`) and document.status
(`status`), optionally for one document. Pages poll the JSON API when this is unavailable."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from webapp.auth import require
from webapp.context import ctx
from webapp.live import KINDS
from webapp.render import JSON
from webapp.roles import Permission

KEEPALIVE_SECONDS = 15.0


async def events(request: Request) -> Response:
    require(request, Permission.VIEW_QUEUE)
    context = ctx(request)
    if context.feed is None:
        return JSON({"error": "live updates are off; poll the API instead"}, status_code=503)
    wanted = request.query_params.get("kinds", ",".join(sorted(KINDS)))
    kinds = frozenset(k for k in wanted.split(",") if k in KINDS) or KINDS
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
