"""A real uvicorn server for the app, in a thread, on a free port of 127.0.0.1."""

from __future__ import annotations

import threading
import time

import uvicorn
from starlette.applications import Starlette

from optimerge.infra._ports import free_ports


class AppServer:
    def __init__(self, app: Starlette) -> None:
        [self.port] = free_ports(1)
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            # Event streams a page still holds must not keep the test waiting.
            timeout_graceful_shutdown=1,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="app-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("the app server stopped while starting (see the log above)")
            if time.monotonic() > deadline:
                raise TimeoutError("the app server did not start within 30 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(15)
