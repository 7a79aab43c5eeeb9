"""Slows password guessing: after a few failures an account name is refused for a while (pure,
per app process; the clock is injected)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from schemas.events import Clock


class LoginThrottle:
    def __init__(
        self,
        clock: Clock,
        *,
        max_failures: int = 5,
        window: timedelta = timedelta(minutes=5),
    ) -> None:
        self._clock = clock
        self._max = max_failures
        self._window = window
        self._failures: dict[str, list[datetime]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> list[datetime]:
        kept = [t for t in self._failures.get(key, ()) if now - t < self._window]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept

    def blocked_for(self, name: str) -> timedelta | None:
        """How long this name is still refused, or None."""
        key = name.lower()
        with self._lock:
            now = self._clock()
            recent = self._recent(key, now)
            if len(recent) < self._max:
                return None
            return self._window - (now - recent[0])

    def failed(self, name: str) -> None:
        key = name.lower()
        with self._lock:
            now = self._clock()
            self._recent(key, now)
            self._failures.setdefault(key, []).append(now)

    def succeeded(self, name: str) -> None:
        with self._lock:
            self._failures.pop(name.lower(), None)
