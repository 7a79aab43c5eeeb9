"""The operator console's figures (pure): rates over a range of time, per bucket and in total,
each against its PRD target (docs/contract.md#metrics). Counts come summed from the
pipeline.metrics windows, so they follow the same counting rules as the Prometheus counters."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal, Protocol

from domain.metrics_window import rate

RANGES: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
}
BUCKETS_PER_RANGE = 30


class BucketLike(Protocol):
    start: datetime
    documents: int
    auto_approved: int
    flagged: int
    merge_failures: int
    dead_letters: int
    rollbacks: int
    reviewed_flagged: int
    false_positives: int
    upload_p50_ms: float | None
    upload_p95_ms: float | None
    upload_p99_ms: float | None
    workers: int
    reasons: dict[str, int]
    # The rule-set version whose windows these are (docs/contract.md#rule-sets); None: unknown.
    rule_set_version: int | None


@dataclass(frozen=True, slots=True)
class Target:
    """A PRD target: the figure must stay within [low, high]."""

    key: str
    label: str
    low: float | None
    high: float | None
    unit: Literal["percent", "ms"] = "percent"

    def met(self, value: float | None) -> bool | None:
        if value is None:
            return None
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)

    @property
    def text(self) -> str:
        def show(v: float) -> str:
            return f"{v * 100:g} %" if self.unit == "percent" else f"{v:g} ms"

        if self.low is not None and self.high is not None:
            return f"{show(self.low)} – {show(self.high)}"
        if self.high is not None:
            return f"< {show(self.high)}"
        return f"> {show(self.low or 0)}"


TARGETS = (
    Target("flag_rate", "Flag rate", 0.05, 0.20),
    Target("auto_approval_rate", "Auto-approval rate", 0.80, 0.95),
    Target("false_positive_rate", "False positives of reviewed flags", None, 0.10),
    Target("rollback_rate", "Rollbacks of merged documents", None, 0.02),
    Target("merge_failure_rate", "Merge failures", None, 0.01),
    Target("upload_p99_ms", "Upload to merged, p99", None, 500.0, "ms"),
)


@dataclass(frozen=True, slots=True)
class Rates:
    documents: int
    flagged: int
    auto_approved: int
    merge_failures: int
    dead_letters: int
    rollbacks: int
    reviewed_flagged: int
    false_positives: int
    flag_rate: float | None
    auto_approval_rate: float | None
    false_positive_rate: float | None
    rollback_rate: float | None
    merge_failure_rate: float | None
    upload_p50_ms: float | None
    upload_p95_ms: float | None
    upload_p99_ms: float | None
    workers: int
    reasons: dict[str, int] = field(default_factory=dict)

    def value(self, key: str) -> float | None:
        found: float | None = getattr(self, key)
        return found


def _ratio(part: int, whole: int) -> float | None:
    return rate(part, whole) if whole else None


def _highest(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def rates_of(buckets: Sequence[BucketLike]) -> Rates:
    """Counts summed, rates of the sums (never an average of rates), latencies the highest."""
    total = Counter[str]()
    reasons: Counter[str] = Counter()
    for b in buckets:
        for key in (
            "documents", "auto_approved", "flagged", "merge_failures", "dead_letters",
            "rollbacks", "reviewed_flagged", "false_positives",
        ):  # fmt: skip
            total[key] += getattr(b, key)
        reasons.update(b.reasons)
    documents = total["documents"]
    return Rates(
        documents=documents,
        flagged=total["flagged"],
        auto_approved=total["auto_approved"],
        merge_failures=total["merge_failures"],
        dead_letters=total["dead_letters"],
        rollbacks=total["rollbacks"],
        reviewed_flagged=total["reviewed_flagged"],
        false_positives=total["false_positives"],
        flag_rate=_ratio(total["flagged"], documents),
        auto_approval_rate=_ratio(total["auto_approved"], documents),
        false_positive_rate=_ratio(total["false_positives"], total["reviewed_flagged"]),
        rollback_rate=_ratio(total["rollbacks"], documents),
        merge_failure_rate=_ratio(total["merge_failures"], documents + total["merge_failures"]),
        upload_p50_ms=_highest([b.upload_p50_ms for b in buckets]),
        upload_p95_ms=_highest([b.upload_p95_ms for b in buckets]),
        upload_p99_ms=_highest([b.upload_p99_ms for b in buckets]),
        workers=max((b.workers for b in buckets), default=0),
        reasons=dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
    )


@dataclass(frozen=True, slots=True)
class TimeRange:
    key: str
    since: datetime
    until: datetime
    bucket_seconds: int


def time_range(
    key: str, now: datetime, since: datetime | None = None, until: datetime | None = None
) -> TimeRange:
    """A named range ending now, or a custom one; about 30 buckets, whole seconds each."""
    if key == "custom" and since is not None:
        end = until or now
        if end <= since:
            raise ValueError("the range must end after it starts")
        start = since
    else:
        key = key if key in RANGES else "hour"
        start, end = now - RANGES[key], now
    span = (end - start).total_seconds()
    bucket = max(1, round(span / BUCKETS_PER_RANGE))
    return TimeRange(key, start, end, bucket)


def bucket_starts(tr: TimeRange) -> list[datetime]:
    """Every bucket start of the range, aligned like the SQL's (multiples since the epoch)."""
    first = int(tr.since.timestamp()) // tr.bucket_seconds * tr.bucket_seconds
    last = int(tr.until.timestamp())
    epoch = tr.since - timedelta(seconds=tr.since.timestamp())
    return [epoch + timedelta(seconds=s) for s in range(first, last + 1, tr.bucket_seconds)]
