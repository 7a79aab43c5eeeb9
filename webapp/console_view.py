"""What the operator console shows (pure): the range's totals against the PRD targets, a chart
per figure, and the pipeline's state now (workers, lag per partition)."""

from __future__ import annotations

from collections import defaultdict
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
class VersionRow:
    """The range's figures of the documents one rule-set version judged."""

    label: str
    version: int | None
    rates: Rates


@dataclass(frozen=True, slots=True)
class ConsoleView:
    time_range: TimeRange
    totals: Rates
    targets: list[TargetRow]
    by_version: list[VersionRow]
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
    """Every bucket's figures, the rule-set versions in it summed."""
    by_start: dict[int, list[BucketLike]] = defaultdict(list)
    for r in rows:
        by_start[int(r.start.timestamp())].append(r)
    starts = bucket_starts(tr)
    return [_label(s, tr) for s in starts], [
        rates_of(by_start.get(int(s.timestamp()), [])) for s in starts
    ]


def version_label(version: int | None) -> str:
    if version is None:
        return "unversioned"
    return "settings (v0)" if version == 0 else f"v{version}"


def _versions(rows: Sequence[BucketLike]) -> list[int | None]:
    return sorted({r.rule_set_version for r in rows}, key=lambda v: -1 if v is None else v)


def _rate_series(tr: TimeRange, rows: Sequence[BucketLike], name: str, key: str) -> list[Series]:
    """One line per rule-set version, so a switch shows as one line ending and another
    starting; a single line while one version judged the whole range."""
    versions = _versions(rows)
    if len(versions) <= 1:
        _, per = _per_bucket(tr, rows)
        suffix = f" ({version_label(versions[0])})" if versions else ""
        return [Series(name + suffix, [p.value(key) for p in per])]
    series = []
    for version in versions:
        _, per = _per_bucket(tr, [r for r in rows if r.rule_set_version == version])
        series.append(Series(f"{name}, {version_label(version)}", [p.value(key) for p in per]))
    return series


def console_view(tr: TimeRange, rows: Sequence[BucketLike], health: HealthReport) -> ConsoleView:
    totals = rates_of(rows)
    labels, per = _per_bucket(tr, rows)
    by_version = [
        VersionRow(version_label(v), v, rates_of([r for r in rows if r.rule_set_version == v]))
        for v in _versions(rows)
    ]
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
                "Flag rate", labels, _rate_series(tr, rows, "Flag rate", "flag_rate"), percent,
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
                _rate_series(tr, rows, "False positives", "false_positive_rate"), percent,
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
        by_version=by_version,
        reasons=[(rule, reason_label(rule), n) for rule, n in totals.reasons.items()],
        charts=charts,
        health=health.as_json(),
        lag=lag,
        workers_alive=int(workers.get("alive", 0)),
    )
