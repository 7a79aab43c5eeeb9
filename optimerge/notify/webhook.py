"""POST one notification to its channel and retry with backoff until the receiver takes it."""

from __future__ import annotations

import logging
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from domain.notifications import Notification, NotifySettings, request_body, retryable

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    status: int
    attempts: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int | None:
    """The receiver's HTTP status, or None when it did not answer."""
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        log.warning("notify: %s did not answer: %s", url, exc)
        return None


def deliver(
    n: Notification,
    settings: NotifySettings,
    now: datetime,
    stopping: threading.Event,
) -> Delivery | None:
    """Send until a 2xx, or a refusal retrying cannot fix (4xx); None when told to stop first."""
    body, headers = request_body(n, str(int(now.timestamp())))
    delay = settings.backoff_initial_seconds
    attempts = 0
    while not stopping.is_set():
        attempts += 1
        status = post(n.channel.url, body, headers, settings.timeout_seconds)
        if status is not None and not retryable(status):
            if not 200 <= status < 300:
                log.error(
                    "notify: %s refused notification %s with HTTP %s; not retried",
                    n.channel.name,
                    n.notification_id,
                    status,
                )
            return Delivery(status, attempts)
        log.warning(
            "notify: %s answered %s to %s; retrying in %.1f s",
            n.channel.name,
            status or "nothing",
            n.notification_id,
            delay,
        )
        if stopping.wait(delay):
            break
        delay = min(delay * 2, settings.backoff_max_seconds)
    return None
