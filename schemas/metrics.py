"""The windowed pipeline metrics a worker publishes on pipeline.metrics
(docs/contract.md#metrics)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from schemas.events import _Event


class LatencySummary(BaseModel):
    """Latency of one window in milliseconds; percentiles and max are null when count is 0."""

    model_config = ConfigDict(extra="allow")

    p50: float | None = None
    p95: float | None = None
    p99: float | None = None
    count: int = Field(default=0, ge=0)
    max: float | None = None


class PipelineMetricsWindow(_Event):
    """One worker's figures for one tumbling window [window_start, window_end).

    Windows are aligned to multiples of their length since the epoch, so the windows of all
    workers line up: counts sum across workers; percentiles do not (keep each worker's). A
    worker keeps one window per rule-set version in a window of time: its documents are those
    the version judged, its reviews the verdicts on them (docs/contract.md#rule-sets)."""

    worker_id: str
    window_start: AwareDatetime
    window_end: AwareDatetime
    # The rule-set version the window's figures belong to; None: not known (older workers) or
    # several (windows combined across versions).
    rule_set_version: int | None = None
    documents: int = Field(default=0, ge=0)
    auto_approved: int = Field(default=0, ge=0)
    flagged: int = Field(default=0, ge=0)
    # flagged / documents; 0 when the window merged no document.
    flag_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    # Flag rule code -> how many documents of the window it fired on.
    reasons: dict[str, int] = Field(default_factory=dict)
    merge_failures: int = Field(default=0, ge=0)
    dead_letters: int = Field(default=0, ge=0)
    rollbacks: int = Field(default=0, ge=0)
    # Applied actions by kind (mark_correct, correct_data, rollback), refused ones by outcome
    # (conflict, not_found).
    reviews: dict[str, int] = Field(default_factory=dict)
    # Verdicts on flagged documents: mark_correct of a flagged one, correct_data, rollback.
    reviewed_flagged: int = Field(default=0, ge=0)
    # Flagged, then marked correct unchanged.
    false_positives: int = Field(default=0, ge=0)
    # false_positives / reviewed_flagged; 0 when no flagged document was reviewed.
    false_positive_rate: float = Field(default=0.0, ge=0.0, le=1.0)
    merge_latency_ms: LatencySummary = Field(default_factory=LatencySummary)
    upload_to_merged_ms: LatencySummary = Field(default_factory=LatencySummary)

    @field_validator("window_start", "window_end")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        return value.astimezone(UTC)
