"""Prometheus metrics of a worker (and the app) on an injected registry, in base units (seconds).

The same figures as the pipeline.metrics windows, as counters and histograms that Prometheus can
rate and aggregate over any range, plus consumer lag and batch size. No global registry: the
caller makes one (a test makes its own) and serves it with `serve`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import get_args
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from domain.metrics_window import is_flag_verdict
from domain.review_plan import ReviewOutcome
from pipeline.batch import BatchResult
from pipeline.facts import batch_facts
from schemas.events import DeadLetterKind, FlagRule, ReviewActionKind, ReviewStatus

# 5 ms .. 60 s; 0.5 s is a bucket bound because the upload-to-merged alert fires above it.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


@dataclass(frozen=True, slots=True)
class PipelineMetrics:
    documents: Counter
    flags: Counter
    merge_failures: Counter
    dead_letters: Counter
    review_actions: Counter
    rollbacks: Counter
    reviewed_flagged: Counter
    false_positives: Counter
    merge_duration: Histogram
    upload_to_merged: Histogram
    consumer_lag: Gauge
    batch_size: Gauge
    assigned_partitions: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PipelineMetrics:
        metrics = cls(
            documents=Counter(
                "optimerge_documents_total",
                "Documents merged (first time or a newer extraction_version), by review status.",
                ["review_status"],
                registry=registry,
            ),
            flags=Counter(
                "optimerge_flags_total",
                "Flag rules that fired on merged documents, by rule code.",
                ["rule"],
                registry=registry,
            ),
            merge_failures=Counter(
                "optimerge_merge_failures_total",
                "Documents that could not be merged (flagged merge_error, dead-lettered).",
                registry=registry,
            ),
            dead_letters=Counter(
                "optimerge_dead_letters_total",
                "Messages sent to the dead-letter topic, by error kind.",
                ["kind"],
                registry=registry,
            ),
            review_actions=Counter(
                "optimerge_review_actions_total",
                "Review actions decided (redeliveries excluded), by action and outcome.",
                ["action", "outcome"],
                registry=registry,
            ),
            rollbacks=Counter(
                "optimerge_rollbacks_total",
                "Documents removed from the record by an applied rollback.",
                registry=registry,
            ),
            reviewed_flagged=Counter(
                "optimerge_reviewed_flagged_total",
                "Verdicts on flagged documents (mark_correct of a flagged one, correct_data, "
                "rollback): the denominator of the false-positive rate.",
                registry=registry,
            ),
            false_positives=Counter(
                "optimerge_false_positives_total",
                "Flagged documents marked correct unchanged.",
                registry=registry,
            ),
            merge_duration=Histogram(
                "optimerge_merge_duration_seconds",
                "Time to merge a document's batch segment in PostgreSQL.",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            upload_to_merged=Histogram(
                "optimerge_upload_to_merged_seconds",
                "From the document's upload to its merge into the patient record.",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            consumer_lag=Gauge(
                "optimerge_consumer_lag",
                "Messages not yet consumed, per input topic and partition this worker owns.",
                ["topic", "partition"],
                registry=registry,
            ),
            batch_size=Gauge(
                "optimerge_batch_size",
                "Input records in the last batch processed.",
                registry=registry,
            ),
            assigned_partitions=Gauge(
                "optimerge_worker_assigned_partitions",
                "Input partitions this worker owns now (0: in the group, but consuming nothing).",
                registry=registry,
            ),
        )
        metrics._initialise_series()
        return metrics

    def _initialise_series(self) -> None:
        # Series that exist at 0 from the start keep rate() and the alerts defined before the
        # first event of their kind.
        for status in (ReviewStatus.AUTO_APPROVED, ReviewStatus.FLAGGED):
            self.documents.labels(status.value)
        for rule in FlagRule:
            self.flags.labels(rule.value)
        for kind in get_args(DeadLetterKind):
            self.dead_letters.labels(kind)
        for action in ReviewActionKind:
            for outcome in ReviewOutcome:
                self.review_actions.labels(action.value, outcome.value)

    def observe_batch(self, batch: BatchResult, now: datetime) -> None:
        """Count a processed batch (the same mapping as the pipeline.metrics windows)."""
        facts = batch_facts(batch, now)
        for doc in facts.documents:
            self.documents.labels(doc.review_status).inc()
            for rule in set(doc.flag_rules):
                self.flags.labels(rule).inc()
            self.merge_duration.observe(doc.merge_ms / 1000)
            self.upload_to_merged.observe(doc.upload_to_merged_ms / 1000)
        if facts.merge_failures:
            self.merge_failures.inc(facts.merge_failures)
        for kind in facts.dead_letter_kinds:
            self.dead_letters.labels(kind).inc()
        for review in facts.reviews:
            self.review_actions.labels(review.action, review.outcome).inc()
            if review.outcome != ReviewOutcome.APPLIED:
                continue
            if review.action == ReviewActionKind.ROLLBACK:
                self.rollbacks.inc()
            if is_flag_verdict(review.action, review.false_positive):
                self.reviewed_flagged.inc()
            if review.false_positive:
                self.false_positives.inc()
        self.batch_size.set(facts.size)

    def set_consumer_lag(self, lags: Mapping[tuple[str, int], int]) -> None:
        """Replace the lag of every (topic, partition): after a rebalance, partitions this worker
        lost must not keep reporting their last lag."""
        self.consumer_lag.clear()
        for (topic, partition), lag in lags.items():
            self.consumer_lag.labels(topic, str(partition)).set(lag)


def serve(registry: CollectorRegistry, host: str, port: int) -> tuple[WSGIServer, int]:
    """Serve /metrics in a daemon thread; port 0 binds any free port. Returns the server (stop it
    with `shutdown()` and `server_close()`) and the port actually bound."""
    server, _thread = start_http_server(port, addr=host, registry=registry)
    return server, server.server_port
