"""Prometheus metrics on a registry of the test's own, in base units, and their endpoint."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from agents.prometheus import PipelineMetrics, serve
from domain.merge_plan import MergeDecision, MergeOutcome
from domain.reports import FailureReport, IncomingExtraction, MergeReport, ReviewReport
from domain.review_plan import ReviewDecision, ReviewOutcome
from pipeline.batch import BatchResult
from pipeline.decode import RawRecord, Rejected
from schemas import DeadLetter, ExtractionResult, FlagReason, ReviewAction, ReviewStatus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def merge(outcome: MergeOutcome, status: ReviewStatus, *rules: str) -> MergeReport:
    result = ExtractionResult(
        document_id="d1",
        patient_id="p1",
        uploaded_at=NOW - timedelta(seconds=3),
        extracted_at=NOW,
        model={"name": "m"},
        confidence=0.5,
    )
    reasons = tuple(FlagReason(rule=r, text=r) for r in rules)
    decision = MergeDecision(outcome, "d1", "p1", review_status=status, flag_reasons=reasons)
    return MergeReport(decision, IncomingExtraction(result, NOW), NOW, 40.0, status, 0)


def review(kind: str, outcome: ReviewOutcome, *, fp: bool = False) -> ReviewReport:
    action = ReviewAction(
        document_id="d1", patient_id="p1", action=kind, reviewer="r", expected_version=1
    )
    return ReviewReport(ReviewDecision(outcome, action, false_positive=fp))


def test_observe_batch_counts_in_base_units() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics.create(registry)
    letter = DeadLetter(source_topic="t", reason="bad", error_kind="invalid_json", payload="{")
    record = RawRecord("t", 0, 1, None, b"{", NOW)
    batch = BatchResult(
        merges=[
            merge(MergeOutcome.MERGED, ReviewStatus.FLAGGED, "low_confidence", "no_resources"),
            merge(MergeOutcome.REMERGED, ReviewStatus.AUTO_APPROVED),
            merge(MergeOutcome.DUPLICATE, ReviewStatus.FLAGGED, "low_confidence"),
        ],
        reviews=[
            review("mark_correct", ReviewOutcome.APPLIED, fp=True),
            review("rollback", ReviewOutcome.APPLIED),
            review("rollback", ReviewOutcome.CONFLICT),
        ],
        rejected=[Rejected(record, letter)],
        failures=[
            FailureReport(merge(MergeOutcome.STALE, ReviewStatus.FLAGGED).incoming, "boom", 1)
        ]
        * 2,
    )
    metrics.observe_batch(batch, NOW)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert value("optimerge_documents_total", review_status="flagged") == 1
    assert value("optimerge_documents_total", review_status="auto_approved") == 1
    assert value("optimerge_flags_total", rule="low_confidence") == 1
    assert value("optimerge_flags_total", rule="name_mismatch") == 0
    assert value("optimerge_merge_failures_total") == 2
    assert value("optimerge_dead_letters_total", kind="merge_error") == 2
    assert value("optimerge_dead_letters_total", kind="invalid_json") == 1
    assert value("optimerge_review_actions_total", action="rollback", outcome="conflict") == 1
    assert value("optimerge_rollbacks_total") == 1
    assert value("optimerge_false_positives_total") == 1
    assert value("optimerge_reviewed_flagged_total") == 2
    assert value("optimerge_merge_duration_seconds_sum") == pytest.approx(0.08)
    assert value("optimerge_upload_to_merged_seconds_bucket", le="2.5") == 0
    assert value("optimerge_upload_to_merged_seconds_bucket", le="5.0") == 2
    assert value("optimerge_batch_size") == 9


def test_consumer_lag_forgets_partitions_that_were_revoked() -> None:
    registry = CollectorRegistry()
    metrics = PipelineMetrics.create(registry)
    metrics.set_consumer_lag({("in", 0): 5, ("in", 1): 7})
    metrics.set_consumer_lag({("in", 1): 2})
    assert (
        registry.get_sample_value("optimerge_consumer_lag", {"topic": "in", "partition": "0"})
        is None
    )
    assert (
        registry.get_sample_value("optimerge_consumer_lag", {"topic": "in", "partition": "1"}) == 2
    )


def test_serve_binds_a_free_port_and_exposes_the_registry() -> None:
    registry = CollectorRegistry()
    PipelineMetrics.create(registry).rollbacks.inc()
    server, port = serve(registry, "127.0.0.1", 0)
    try:
        assert port > 0
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            body = response.read().decode()
        assert "optimerge_rollbacks_total 1.0" in body
    finally:
        server.shutdown()
        server.server_close()
