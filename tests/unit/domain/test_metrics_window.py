"""Tumbling metric windows: epoch-aligned boundaries, late events, percentiles, ids, flush."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest

from domain.merge_plan import MergeDecision, MergeOutcome
from domain.metrics_window import WindowedMetrics, combine_windows
from domain.reports import FailureReport, IncomingExtraction, MergeReport, ReviewReport
from domain.review_plan import ReviewDecision, ReviewOutcome
from domain.stats import percentile
from pipeline.batch import BatchResult
from pipeline.facts import observe_batch
from schemas import ExtractionResult, FlagReason, ReviewAction, ReviewStatus
from schemas.events import deterministic_event_id

T0 = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a multiple of 60 s since the epoch


class FakeClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def doc(
    m: WindowedMetrics,
    seconds: float,
    status: str = "auto_approved",
    rules: Sequence[str] = (),
    ms: float = 10.0,
) -> None:
    m.observe_document(
        at=at(seconds), review_status=status, flag_rules=rules, merge_ms=ms, upload_to_merged_ms=ms
    )


def test_windows_close_at_epoch_aligned_boundaries() -> None:
    clock = FakeClock(at(5))
    m = WindowedMetrics("w1", 60, clock)
    doc(m, 5)
    doc(m, 59.999)
    doc(m, 60, status="flagged", rules=["low_confidence", "fallback_model"])
    assert m.close_due(at(59.9)) == []
    clock.now = at(60)
    [first] = m.close_due()
    assert (first.window_start, first.window_end) == (at(0), at(60))
    assert (first.documents, first.auto_approved, first.flagged) == (2, 2, 0)
    [second] = m.close_due(at(125))
    assert second.window_start == at(60)
    assert second.flag_rate == 1.0
    assert second.reasons == {"fallback_model": 1, "low_confidence": 1}


def test_late_observation_goes_to_the_oldest_open_window_and_counts_add_up() -> None:
    m = WindowedMetrics("w1", 60, FakeClock(at(0)))
    for s in range(0, 300, 7):
        doc(m, s)
    closed = m.close_due(at(120))
    m.observe_merge_failure(at(30))  # its window was already emitted
    doc(m, 10)
    closed += m.flush(at(300))
    assert [w.window_start for w in closed] == [at(0), at(60), at(120), at(180), at(240)]
    assert sum(w.documents for w in closed) == len(range(0, 300, 7)) + 1
    assert closed[2].merge_failures == 1
    assert len({w.event_id for w in closed}) == len(closed)


def test_percentiles_are_nearest_rank_over_the_window() -> None:
    m = WindowedMetrics("w1", 60, FakeClock(at(0)))
    for ms in range(1, 101):
        doc(m, 1, ms=float(ms))
    [w] = m.flush(at(1))
    latency = w.merge_latency_ms
    assert (latency.p50, latency.p95, latency.p99, latency.count, latency.max) == (
        50,
        95,
        99,
        100,
        100,
    )
    assert percentile([7.0], 99) == 7.0


def test_reservoir_keeps_memory_bounded_and_count_and_max_exact() -> None:
    m = WindowedMetrics("w1", 60, FakeClock(at(0)), max_samples=50)
    for ms in range(1000):
        doc(m, 1, ms=float(ms))
    latency = m.flush(at(1))[0].merge_latency_ms
    assert (latency.count, latency.max) == (1000, 999)
    assert latency.p50 is not None and 250 < latency.p50 < 750


def test_event_id_is_deterministic_per_worker_and_window() -> None:
    windows = []
    for _ in range(2):
        m = WindowedMetrics("w1", 60, FakeClock(at(0)))
        doc(m, 61)
        windows += m.flush(at(61))
    assert windows[0].event_id == windows[1].event_id
    assert windows[0].event_id == deterministic_event_id("w1", at(60), "metrics")
    assert windows[0].model_dump() == windows[1].model_dump()


def test_flush_closes_the_current_window_and_nothing_is_emitted_twice() -> None:
    m = WindowedMetrics("w1", 60, FakeClock(at(0)))
    doc(m, 10)
    assert [w.documents for w in m.flush(at(10))] == [1]
    doc(m, 20)  # after the flush: goes to the next window, not a second copy of this one
    [w] = m.flush(at(70))
    assert w.window_start == at(60)


def test_reviews_false_positive_rate_and_rollbacks() -> None:
    m = WindowedMetrics("w1", 60, FakeClock(at(0)))
    for action, outcome, fp in [
        ("mark_correct", "applied", True),
        ("mark_correct", "applied", False),  # not flagged before: no verdict on the rules
        ("correct_data", "applied", False),
        ("rollback", "applied", False),
        ("rollback", "conflict", False),
    ]:
        m.observe_review(at=at(1), action=action, outcome=outcome, false_positive=fp)
    [w] = m.flush(at(1))
    assert w.reviews == {"conflict": 1, "correct_data": 1, "mark_correct": 2, "rollback": 1}
    assert (w.rollbacks, w.false_positives, w.reviewed_flagged) == (1, 1, 3)
    assert w.false_positive_rate == pytest.approx(1 / 3)


def test_combine_sums_counts_and_takes_the_highest_percentile() -> None:
    windows = []
    for worker, ms in (("w1", 10.0), ("w2", 30.0)):
        m = WindowedMetrics(worker, 60, FakeClock(at(0)))
        doc(m, 1, ms=ms)
        doc(m, 2, status="flagged", rules=["no_resources"], ms=ms)
        windows += m.flush(at(2))
    total = combine_windows(windows)
    assert (total.worker_id, total.documents, total.flagged) == ("w1,w2", 4, 2)
    assert total.flag_rate == 0.5
    assert total.reasons == {"no_resources": 2}
    assert (total.merge_latency_ms.count, total.merge_latency_ms.p99) == (4, 30.0)


def _extraction(doc_id: str) -> ExtractionResult:
    return ExtractionResult(
        document_id=doc_id,
        patient_id="p-1",
        uploaded_at=at(-2),
        extracted_at=at(-1),
        model={"name": "m"},
        confidence=0.5,
    )


def _merge(doc_id: str, outcome: MergeOutcome) -> MergeReport:
    reasons = (FlagReason(rule="low_confidence", text="low"),)
    decision = MergeDecision(
        outcome, doc_id, "p-1", review_status=ReviewStatus.FLAGGED, flag_reasons=reasons
    )
    writes = outcome in (MergeOutcome.MERGED, MergeOutcome.REMERGED)
    return MergeReport(
        decision=decision,
        incoming=IncomingExtraction(_extraction(doc_id), at(0)),
        merged_at=at(0) if writes else None,
        processing_ms=12.0,
        review_status=decision.review_status,
        resource_count=0,
    )


def test_bridge_counts_new_documents_and_first_deliveries_only() -> None:
    action = ReviewAction(
        document_id="d1", patient_id="p-1", action="mark_correct", reviewer="r", expected_version=1
    )
    applied = ReviewDecision(ReviewOutcome.APPLIED, action, false_positive=True)
    batch = BatchResult(
        merges=[
            _merge("d1", MergeOutcome.MERGED),
            _merge("d2", MergeOutcome.REMERGED),
            _merge("d3", MergeOutcome.DUPLICATE),
            _merge("d4", MergeOutcome.STALE),
        ],
        reviews=[ReviewReport(applied), ReviewReport(applied, replayed=True)],
        failures=[FailureReport(IncomingExtraction(_extraction("d5"), at(0)), "boom", 1)],
    )
    m = WindowedMetrics("w1", 60, FakeClock(at(0)))
    observe_batch(m, batch, at(1))
    [w] = m.flush(at(1))
    assert (w.documents, w.flagged, w.reasons) == (2, 2, {"low_confidence": 2})
    assert (w.merge_failures, w.dead_letters, w.false_positives) == (1, 1, 1)
    assert w.reviews == {"mark_correct": 1}
    assert w.upload_to_merged_ms.max == 2000.0


def test_a_window_of_time_holds_one_window_per_rule_set_version() -> None:
    clock = FakeClock(at(1))
    m = WindowedMetrics("w1", 60, clock)
    m.observe_document(at=at(1), review_status="flagged", flag_rules=["low_confidence"],
                       merge_ms=1, upload_to_merged_ms=1, rule_set_version=0)  # fmt: skip
    m.observe_document(at=at(2), review_status="auto_approved", flag_rules=[],
                       merge_ms=1, upload_to_merged_ms=1, rule_set_version=3)  # fmt: skip
    m.observe_merge_failure(at(3))  # no version judged it: the worker's latest
    # A verdict counts under the version that judged the document, whenever it comes.
    m.observe_review(at=at(4), action="mark_correct", outcome="applied", false_positive=True,
                     rule_set_version=0)  # fmt: skip
    old, new = m.close_due(at(60))
    assert (old.rule_set_version, old.documents, old.false_positives) == (0, 1, 1)
    assert (new.rule_set_version, new.documents, new.merge_failures) == (3, 1, 1)
    assert old.window_start == new.window_start and old.event_id != new.event_id
    assert new.event_id == deterministic_event_id("w1", at(0), "metrics", 3)
    combined = combine_windows([old, new])
    assert combined.rule_set_version is None and combined.documents == 2
    assert combine_windows([new]).rule_set_version == 3
