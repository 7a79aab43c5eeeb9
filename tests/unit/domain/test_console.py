"""The console's figures: rates of sums, never averages of rates; ranges and buckets."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from domain.console import TARGETS, bucket_starts, rates_of, time_range

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@dataclass
class B:
    start: datetime = NOW
    documents: int = 0
    auto_approved: int = 0
    flagged: int = 0
    merge_failures: int = 0
    dead_letters: int = 0
    rollbacks: int = 0
    reviewed_flagged: int = 0
    false_positives: int = 0
    upload_p50_ms: float | None = None
    upload_p95_ms: float | None = None
    upload_p99_ms: float | None = None
    workers: int = 1
    reasons: dict[str, int] = field(default_factory=dict)
    rule_set_version: int | None = 0


def test_rates_are_of_the_sums_and_latency_is_the_highest() -> None:
    # 1 of 10 and 9 of 90: 10 % overall, although one bucket alone says 10 % and the other 10 %.
    rates = rates_of([
        B(documents=10, flagged=1, auto_approved=9, upload_p99_ms=120.0, reasons={"a": 1}),
        B(documents=90, flagged=29, auto_approved=61, merge_failures=1, upload_p99_ms=480.0,
          reasons={"a": 20, "b": 9}, reviewed_flagged=4, false_positives=1, rollbacks=2),
    ])  # fmt: skip
    assert rates.flag_rate == 0.30
    assert rates.auto_approval_rate == 0.70
    assert rates.merge_failure_rate == 1 / 101
    assert rates.false_positive_rate == 0.25 and rates.rollback_rate == 0.02
    assert rates.upload_p99_ms == 480.0
    assert rates.reasons == {"a": 21, "b": 9}
    met = {t.key: t.met(rates.value(t.key)) for t in TARGETS}
    assert met == {
        "flag_rate": False, "auto_approval_rate": False, "false_positive_rate": False,
        "rollback_rate": True, "merge_failure_rate": True, "upload_p99_ms": True,
    }  # fmt: skip


def test_no_documents_means_no_rate_rather_than_zero() -> None:
    rates = rates_of([])
    assert rates.flag_rate is None and rates.documents == 0
    assert TARGETS[0].met(rates.flag_rate) is None


def test_ranges_have_about_thirty_whole_second_buckets() -> None:
    hour = time_range("hour", NOW)
    assert (hour.since, hour.until, hour.bucket_seconds) == (NOW - timedelta(hours=1), NOW, 120)
    assert time_range("week", NOW).bucket_seconds == 20160
    assert time_range("nonsense", NOW).key == "hour"
    custom = time_range("custom", NOW, NOW - timedelta(minutes=3), NOW - timedelta(minutes=1))
    assert custom.bucket_seconds == 4
    with pytest.raises(ValueError, match="end after"):
        time_range("custom", NOW, NOW, NOW - timedelta(minutes=1))
    starts = bucket_starts(hour)
    assert starts[0] <= hour.since < starts[1] and starts[-1] <= NOW
    assert all(int(s.timestamp()) % 120 == 0 for s in starts)
