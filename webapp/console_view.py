"""What the operator console shows (pure): the range's totals against the PRD targets, a chart
per figure, and the pipeline's state now (workers, lag per partition)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from domain.console import TARGETS, BucketLike, Rates, Target, TimeRange, bucket_starts, rates_of
from domain.health import HealthReport
from webapp.charts import (
    Series,
    count,
    horizontal_bars,
    line_chart,
    millis,
    percent,
    stacked_bars,
)
from webapp.present import reason_label

TOP_REASONS = 6


@dataclass(frozen=True, slots=True)
class TargetRow:
    target: Target
    value: float | None
    met: bool | None

    @property
    def shown(self) -> str:
        if self.value is None:
            return "–"
        if self.target.unit == "ms":
            return f"{self.value:,.0f} ms"
        return f"{self.value * 100:.1f} %"


@dataclass(frozen=True, slots=True)
class Chart:
    key: str
    title: str
    svg: Markup


@dataclass(frozen=True, slots=True)
class ConsoleView:
    time_range: TimeRange
    totals: Rates
    targets: list[TargetRow]
    reasons: list[tuple[str, str, int]]
    charts: list[Chart]
    health: dict[str, Any]
    lag: list[tuple[str, int]]
    workers_alive: int


def _label(at: datetime, tr: TimeRange) -> str:
    return at.strftime(
        "%m-%d %H:%M"
        if tr.bucket_seconds >= 3600
        else "%H:%M:%S"
        if tr.bucket_seconds < 60
        else "%H:%M"
    )


def _per_bucket(tr: TimeRange, rows: Sequence[BucketLike]) -> tuple[list[str], list[Rates]]:
    by_start = {int(r.start.timestamp()): r for r in rows}
    starts = bucket_starts(tr)
    return [_label(s, tr) for s in starts], [
        rates_of([by_start[int(s.timestamp())]] if int(s.timestamp()) in by_start else [])
        for s in starts
    ]


def console_view(tr: TimeRange, rows: Sequence[BucketLike], health: HealthReport) -> ConsoleView:
    totals = rates_of(rows)
    labels, per = _per_bucket(tr, rows)
    top_rules = list(totals.reasons)[:TOP_REASONS]
    others = [sum(n for rule, n in p.reasons.items() if rule not in top_rules) for p in per]
    reason_stacks = [
        Series(reason_label(rule), [p.reasons.get(rule, 0) for p in per]) for rule in top_rules
    ]
    if any(others):
        reason_stacks.append(Series("Other reasons", others))
    group = health.component("consumer_group").details
    # Topic names without the tenant prefix: extraction.results[0], review.actions[2], ...
    lag = [
        (f"{'.'.join(p['topic'].split('.')[-2:])}[{p['partition']}]", int(p["lag"]))
        for p in group.get("partitions", [])
    ]
    workers = health.component("workers").details
    charts = [
        Chart(
            "documents",
            "Documents merged per bucket",
            stacked_bars(
                "Documents merged per bucket",
                labels,
                [
                    Series("Auto-approved", [p.auto_approved for p in per]),
                    Series("Flagged", [p.flagged for p in per]),
                ],
            ),
        ),
        Chart(
            "flag_rate",
            "Flag rate (target band 5–20 %)",
            line_chart(
                "Flag rate", labels, [Series("Flag rate", [p.flag_rate for p in per])], percent,
                band=(0.05, 0.20), cap=1.0,
            ),
        ),
        Chart(
            "auto_approval_rate",
            "Auto-approval rate (target band 80–95 %)",
            line_chart(
                "Auto-approval rate", labels,
                [Series("Auto-approval rate", [p.auto_approval_rate for p in per])], percent,
                band=(0.80, 0.95), cap=1.0,
            ),
        ),
        Chart(
            "reasons", "Flags per reason", stacked_bars("Flags per reason", labels, reason_stacks)
        ),
        Chart(
            "false_positive_rate",
            "False-positive rate of reviewed flags (limit 10 %)",
            line_chart(
                "False-positive rate", labels,
                [Series("False positives", [p.false_positive_rate for p in per])], percent,
                limit=0.10,
            ),
        ),
        Chart(
            "rollback_rate",
            "Rollback rate (limit 2 %)",
            line_chart(
                "Rollback rate", labels, [Series("Rollbacks", [p.rollback_rate for p in per])],
                percent, limit=0.02,
            ),
        ),
        Chart(
            "merge_failure_rate",
            "Merge failure rate (limit 1 %)",
            line_chart(
                "Merge failure rate", labels,
                [Series("Merge failures", [p.merge_failure_rate for p in per])], percent,
                limit=0.01,
            ),
        ),
        Chart(
            "upload_to_merged",
            "Upload to merged p50 / p95 / p99 (limit 500 ms)",
            line_chart(
                "Upload to merged", labels,
                [
                    Series("p50", [p.upload_p50_ms for p in per]),
                    Series("p95", [p.upload_p95_ms for p in per]),
                    Series("p99", [p.upload_p99_ms for p in per]),
                ],
                millis, limit=500.0,
            ),
        ),
        Chart(
            "workers",
            "Workers that reported per bucket",
            line_chart(
                "Workers that reported", labels,
                [Series("Workers", [float(p.workers) if p.workers else None for p in per])],
                count, floor=1.0,
            ),
        ),
        Chart(
            "lag",
            "Consumer lag per partition (now)",
            horizontal_bars("Consumer lag per partition", lag),
        ),
    ]  # fmt: skip
    return ConsoleView(
        time_range=tr,
        totals=totals,
        targets=[TargetRow(t, totals.value(t.key), t.met(totals.value(t.key))) for t in TARGETS],
        reasons=[(rule, reason_label(rule), n) for rule, n in totals.reasons.items()],
        charts=charts,
        health=health.as_json(),
        lag=lag,
        workers_alive=int(workers.get("alive", 0)),
    )
