"""The app's Prometheus metrics, on an injected registry: requests, actions sent, live clients,
and the flagged queue itself (size and oldest age, read from PostgreSQL at scrape time)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from schemas.events import Clock
from storage.queue import QueueSummary

log = logging.getLogger(__name__)

REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0)


@dataclass(frozen=True, slots=True)
class AppMetrics:
    requests: Counter
    request_duration: Histogram
    actions_sent: Counter
    logins: Counter
    live_events: Counter
    live_clients: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> AppMetrics:
        return cls(
            requests=Counter(
                "optimerge_app_requests_total",
                "HTTP requests served by the reviewer app, by route, method and status.",
                ["route", "method", "status"],
                registry=registry,
            ),
            request_duration=Histogram(
                "optimerge_app_request_duration_seconds",
                "Time to answer an HTTP request (until the response starts), by route.",
                ["route"],
                buckets=REQUEST_BUCKETS,
                registry=registry,
            ),
            actions_sent=Counter(
                "optimerge_app_review_actions_sent_total",
                "Review actions published to review.actions, by action.",
                ["action"],
                registry=registry,
            ),
            logins=Counter(
                "optimerge_app_logins_total",
                "Login attempts, by outcome (ok, refused).",
                ["outcome"],
                registry=registry,
            ),
            live_events=Counter(
                "optimerge_app_live_events_total",
                "Events read from flagged.items and document.status, by kind.",
                ["kind"],
                registry=registry,
            ),
            live_clients=Gauge(
                "optimerge_app_live_clients",
                "Browsers connected to the live event stream.",
                registry=registry,
            ),
        )


class QueueCollector(Collector):
    """The flagged queue's size and oldest age, computed when Prometheus scrapes."""

    def __init__(self, summary: Callable[[], QueueSummary | None], clock: Clock) -> None:
        self._summary = summary
        self._clock = clock

    def describe(self) -> Iterator[Metric]:
        # Describing without values keeps registration from querying the database.
        yield GaugeMetricFamily("optimerge_flagged_documents", "Documents waiting for review.")
        yield GaugeMetricFamily(
            "optimerge_flagged_oldest_age_seconds", "Age of the oldest flagged document."
        )

    def collect(self) -> Iterator[Metric]:
        try:
            summary = self._summary()
        except Exception:  # a scrape must not fail because the database is away
            log.warning("metrics: cannot read the flagged queue", exc_info=True)
            return
        if summary is None:
            return
        yield GaugeMetricFamily(
            "optimerge_flagged_documents", "Documents waiting for review.", value=summary.count
        )
        age = (self._clock() - summary.oldest).total_seconds() if summary.oldest else 0.0
        yield GaugeMetricFamily(
            "optimerge_flagged_oldest_age_seconds",
            "Age of the oldest flagged document.",
            value=max(0.0, age),
        )


class RequestMetrics:
    """Pure ASGI middleware (no buffering, so the event stream flows): counts and times
    requests by their route template, never by raw path."""

    def __init__(self, app: ASGIApp, metrics: AppMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                self.metrics.request_duration.labels(_route(scope)).observe(
                    time.perf_counter() - started
                )
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.requests.labels(_route(scope), scope["method"], str(status)).inc()


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
