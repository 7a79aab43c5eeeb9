"""The pipeline.metrics windows kept for the operator console: written once per event id, read
back summed over buckets of time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from schemas.metrics import PipelineMetricsWindow


def record_windows(conn: psycopg.Connection, windows: Sequence[PipelineMetricsWindow]) -> int:
    """Store windows not stored yet (a redelivered window is a no-op); returns how many were new."""
    if not windows:
        return 0
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO metrics_windows (event_id, worker_id, window_start, window_end, "
            "documents, auto_approved, flagged, merge_failures, dead_letters, rollbacks, "
            "reviewed_flagged, false_positives, reasons, reviews, merge_p99_ms, upload_p50_ms, "
            "upload_p95_ms, upload_p99_ms, rule_set_version) VALUES (%s, %s, %s, %s, %s, %s, "
            "%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (event_id) DO NOTHING",
            [
                (
                    w.event_id,
                    w.worker_id,
                    w.window_start,
                    w.window_end,
                    w.documents,
                    w.auto_approved,
                    w.flagged,
                    w.merge_failures,
                    w.dead_letters,
                    w.rollbacks,
                    w.reviewed_flagged,
                    w.false_positives,
                    Jsonb(w.reasons),
                    Jsonb(w.reviews),
                    w.merge_latency_ms.p99,
                    w.upload_to_merged_ms.p50,
                    w.upload_to_merged_ms.p95,
                    w.upload_to_merged_ms.p99,
                    w.rule_set_version,
                )
                for w in windows
            ],
        )
        return max(0, cur.rowcount)


@dataclass
class Bucket:
    """The windows of one rule-set version that started in [start, start + bucket), summed
    across workers. Latencies are the highest of any window: percentiles do not add up, so
    this is an upper bound."""

    start: datetime
    documents: int = 0
    auto_approved: int = 0
    flagged: int = 0
    merge_failures: int = 0
    dead_letters: int = 0
    rollbacks: int = 0
    reviewed_flagged: int = 0
    false_positives: int = 0
    merge_p99_ms: float | None = None
    upload_p50_ms: float | None = None
    upload_p95_ms: float | None = None
    upload_p99_ms: float | None = None
    workers: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    # None: windows of workers that did not say (before rule sets were versioned).
    rule_set_version: int | None = None


def buckets(
    conn: psycopg.Connection, since: datetime, until: datetime, bucket_seconds: int
) -> list[Bucket]:
    """One Bucket per bucket of time and rule-set version that has windows, in time order."""
    params = {"since": since, "until": until, "b": bucket_seconds}
    bucket = "to_timestamp(floor(extract(epoch FROM window_start) / %(b)s) * %(b)s)"
    rows = conn.execute(
        f"SELECT {bucket} AS bucket, sum(documents), sum(auto_approved), sum(flagged), "
        "sum(merge_failures), sum(dead_letters), sum(rollbacks), sum(reviewed_flagged), "
        "sum(false_positives), max(merge_p99_ms), max(upload_p50_ms), max(upload_p95_ms), "
        "max(upload_p99_ms), count(DISTINCT worker_id), rule_set_version FROM metrics_windows "
        "WHERE window_start >= %(since)s AND window_start < %(until)s GROUP BY 1, 15 "
        "ORDER BY 1, 15",
        params,
    ).fetchall()
    found: dict[tuple[datetime, int | None], Bucket] = {}
    for r in rows:
        docs, auto, flagged, failures, letters, rollbacks, reviewed, fps = (int(v) for v in r[1:9])
        found[(r[0], r[14])] = Bucket(
            r[0], docs, auto, flagged, failures, letters, rollbacks, reviewed, fps,
            r[9], r[10], r[11], r[12], int(r[13]), rule_set_version=r[14],
        )  # fmt: skip
    for start, version, rule, count in conn.execute(
        f"SELECT {bucket}, rule_set_version, r.key, sum(r.value::int) FROM metrics_windows, "
        "jsonb_each_text(reasons) r WHERE window_start >= %(since)s AND window_start < %(until)s "
        "GROUP BY 1, 2, 3",
        params,
    ).fetchall():
        found[(start, version)].reasons[rule] = int(count)
    return list(found.values())
