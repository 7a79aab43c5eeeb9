"""A local webhook receiver that fails on purpose: HTTP 500 on every third call. It keeps what
it accepted (2xx), so a test can count deliveries per notification id."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    notification_id: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class FlakyReceiver:
    fail_every: int = 3
    calls: int = 0
    failed: int = 0
    accepted: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.calls += 1
                    fail = receiver.calls % receiver.fail_every == 0
                    if fail:
                        receiver.failed += 1
                    else:
                        receiver.accepted.append(
                            Received(
                                self.path,
                                self.headers.get("X-Optimerge-Notification-Id", ""),
                                dict(self.headers.items()),
                                body,
                            )
                        )
                self.send_response(500 if fail else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def by_path(self, path: str, kind: str | None = None) -> list[Received]:
        with self.lock:
            found = [r for r in self.accepted if r.path == path]
        if kind is None:
            return found
        return [r for r in found if _kind(r) == kind]

    def duplicates(self) -> Counter[str]:
        with self.lock:
            counts = Counter(r.notification_id for r in self.accepted)
        return Counter({k: n for k, n in counts.items() if n > 1})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _kind(r: Received) -> str:
    data = r.json()
    if "kind" in data:
        return str(data["kind"])
    text = str(data.get("text", ""))
    return (
        "alert"
        if text.startswith(":rotating_light:")
        else "digest"
        if text.startswith("*")
        else "flagged"
    )
