"""Tumbling-window pipeline metrics: pure, with an injected clock; the caller publishes the windows.

Windows are aligned to multiples of `window_seconds` since the Unix epoch, so every worker's windows
line up and their counts can be summed by `window_start`. An observation is filed under the window
its time falls in; one that arrives after that window was closed goes to the oldest open window, so
nothing is lost and a closed window (whose event id is fixed) is never emitted twice.

Percentiles are exact (nearest rank over the sorted samples) up to `max_samples` per window and
series; beyond that a uniform reservoir of `max_samples` keeps memory bounded (count and max stay
exact). The default of 10,000 keeps a 60 s window exact up to about 160 documents per second.
"""

from __future__ import annotations

import random
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from domain.review_plan import ReviewOutcome
from domain.stats import percentile
from schemas.events import ReviewActionKind, ReviewStatus, deterministic_event_id
from schemas.metrics import LatencySummary, PipelineMetricsWindow

Clock = Callable[[], datetime]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
DEFAULT_MAX_SAMPLES = 10_000


def rate(part: int, whole: int) -> float:
    return part / whole if whole else 0.0


def is_flag_verdict(action: str, false_positive: bool) -> bool:
    """Whether an applied review action judged a flagged document (the false-positive rate's
    denominator): mark_correct of a document that was not flagged is no verdict on the rules."""
    return action != ReviewActionKind.MARK_CORRECT or false_positive


class _Samples:
    """Latency samples of one window and series: exact up to a bound, then a reservoir."""

    def __init__(self, max_samples: int, rng: random.Random) -> None:
        self._max_samples = max_samples
        self._rng = rng
        self._values: list[float] = []
        self.count = 0
        self.max: float | None = None

    def add(self, value: float) -> None:
        self.count += 1
        self.max = value if self.max is None else max(self.max, value)
        if len(self._values) < self._max_samples:
            self._values.append(value)
            return
        # Algorithm R: every sample seen so far stays in the reservoir with equal probability.
        slot = self._rng.randrange(self.count)
        if slot < self._max_samples:
            self._values[slot] = value

    def summary(self) -> LatencySummary:
        if not self._values:
            return LatencySummary()
        ordered = sorted(self._values)
        return LatencySummary(
            p50=percentile(ordered, 50, is_sorted=True),
            p95=percentile(ordered, 95, is_sorted=True),
            p99=percentile(ordered, 99, is_sorted=True),
            count=self.count,
            max=self.max,
        )


@dataclass
class _Window:
    start: datetime
    end: datetime
    merge_ms: _Samples
    upload_to_merged_ms: _Samples
    rule_set_version: int | None = None
    documents: int = 0
    auto_approved: int = 0
    flagged: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    merge_failures: int = 0
    dead_letters: int = 0
    rollbacks: int = 0
    reviews: Counter[str] = field(default_factory=Counter)
    reviewed_flagged: int = 0
    false_positives: int = 0

    def event(self, worker_id: str) -> PipelineMetricsWindow:
        return PipelineMetricsWindow(
            event_id=_window_id(worker_id, self.start, self.rule_set_version),
            worker_id=worker_id,
            window_start=self.start,
            window_end=self.end,
            rule_set_version=self.rule_set_version,
            documents=self.documents,
            auto_approved=self.auto_approved,
            flagged=self.flagged,
            flag_rate=rate(self.flagged, self.documents),
            reasons=dict(sorted(self.reasons.items())),
            merge_failures=self.merge_failures,
            dead_letters=self.dead_letters,
            rollbacks=self.rollbacks,
            reviews=dict(sorted(self.reviews.items())),
            reviewed_flagged=self.reviewed_flagged,
            false_positives=self.false_positives,
            false_positive_rate=rate(self.false_positives, self.reviewed_flagged),
            merge_latency_ms=self.merge_ms.summary(),
            upload_to_merged_ms=self.upload_to_merged_ms.summary(),
        )


def _window_id(worker_id: str, start: datetime, rule_set_version: int | None) -> uuid.UUID:
    if rule_set_version is None:
        return deterministic_event_id(worker_id, start, "metrics")
    return deterministic_event_id(worker_id, start, "metrics", rule_set_version)


class WindowedMetrics:
    """One worker's tumbling windows, one per rule-set version within each; only windows that
    saw something are emitted. Merge failures and dead letters, judged by no version, go to the
    version the worker judged its latest document with.

    `worker_id` should be unique per process run (e.g. host:pid): a window flushed on shutdown
    and the rest of it after a restart would otherwise share one event id."""

    def __init__(
        self,
        worker_id: str,
        window_seconds: float,
        clock: Clock,
        *,
        max_samples: int = DEFAULT_MAX_SAMPLES,
    ) -> None:
        self._window_us = round(window_seconds * 1_000_000)
        if self._window_us <= 0:
            raise ValueError("window_seconds must be positive")
        if max_samples < 1:
            raise ValueError("max_samples must be at least 1")
        self.worker_id = worker_id
        self._clock = clock
        self._max_samples = max_samples
        self._windows: dict[tuple[int, int | None], _Window] = {}
        self._first_open = self._index(clock())
        self.rule_set_version: int | None = None

    def _index(self, at: datetime) -> int:
        return ((at - _EPOCH) // _MICROSECOND) // self._window_us

    def _window(self, at: datetime, rule_set_version: int | None = None) -> _Window:
        index = max(self._index(at), self._first_open)
        key = (index, rule_set_version)
        window = self._windows.get(key)
        if window is None:
            start = _EPOCH + timedelta(microseconds=index * self._window_us)
            # Seeded per window, so a reservoir (if it is ever needed) is reproducible.
            rng = random.Random(f"{self.worker_id}:{start.isoformat()}")  # noqa: S311
            window = _Window(
                start=start,
                end=start + timedelta(microseconds=self._window_us),
                merge_ms=_Samples(self._max_samples, rng),
                upload_to_merged_ms=_Samples(self._max_samples, rng),
                rule_set_version=rule_set_version,
            )
            self._windows[key] = window
        return window

    def observe_document(
        self,
        *,
        at: datetime,
        review_status: str,
        flag_rules: Sequence[str],
        merge_ms: float,
        upload_to_merged_ms: float,
        rule_set_version: int | None = None,
    ) -> None:
        """A document merged (first time or a newer extraction_version) at `at`, judged by
        `rule_set_version`."""
        self.rule_set_version = rule_set_version
        window = self._window(at, rule_set_version)
        window.documents += 1
        if review_status == ReviewStatus.AUTO_APPROVED:
            window.auto_approved += 1
        elif review_status == ReviewStatus.FLAGGED:
            window.flagged += 1
        window.reasons.update(set(flag_rules))
        window.merge_ms.add(merge_ms)
        window.upload_to_merged_ms.add(upload_to_merged_ms)

    def observe_merge_failure(self, at: datetime) -> None:
        self._window(at, self.rule_set_version).merge_failures += 1

    def observe_dead_letter(self, at: datetime) -> None:
        self._window(at, self.rule_set_version).dead_letters += 1

    def observe_review(
        self,
        *,
        at: datetime,
        action: str,
        outcome: str,
        false_positive: bool,
        rule_set_version: int | None = None,
    ) -> None:
        """A review action decided at `at`: applied ones count by action, refused by outcome;
        under the version that judged the document (the verdict is on that version's flags)."""
        window = self._window(at, rule_set_version)
        if outcome != ReviewOutcome.APPLIED:
            window.reviews[outcome] += 1
            return
        window.reviews[action] += 1
        if action == ReviewActionKind.ROLLBACK:
            window.rollbacks += 1
        if is_flag_verdict(action, false_positive):
            window.reviewed_flagged += 1
        if false_positive:
            window.false_positives += 1

    def close_due(self, now: datetime | None = None) -> list[PipelineMetricsWindow]:
        """Every window that ended at or before `now` (default: the clock), oldest first."""
        current = self._index(self._clock() if now is None else now)
        self._first_open = max(self._first_open, current)
        return self._close(lambda index: index < current)

    def flush(self, now: datetime | None = None) -> list[PipelineMetricsWindow]:
        """Close every window, the current one too (on shutdown); later observations go to the
        next window."""
        current = self._index(self._clock() if now is None else now)
        self._first_open = max(self._first_open, current + 1)
        return self._close(lambda _: True)

    def _close(self, due: Callable[[int], bool]) -> list[PipelineMetricsWindow]:
        closed = sorted((key for key in self._windows if due(key[0])), key=_order)
        return [self._windows.pop(key).event(self.worker_id) for key in closed]


def _order(key: tuple[int, int | None]) -> tuple[int, int]:
    index, version = key
    return index, -1 if version is None else version


def _summed_latency(summaries: Iterable[LatencySummary]) -> LatencySummary:
    present = [s for s in summaries if s.count]
    if not present:
        return LatencySummary()

    def highest(values: Iterable[float | None]) -> float:
        return max(v for v in values if v is not None)

    return LatencySummary(
        p50=highest(s.p50 for s in present),
        p95=highest(s.p95 for s in present),
        p99=highest(s.p99 for s in present),
        count=sum(s.count for s in present),
        max=highest(s.max for s in present),
    )


def combine_windows(windows: Sequence[PipelineMetricsWindow]) -> PipelineMetricsWindow:
    """Sum the windows of several workers for one window_start. Percentiles cannot be summed:
    the combined ones are the highest of any worker, an upper bound of the true value. The
    rule-set version is kept when all windows share it, else None."""
    if not windows:
        raise ValueError("no windows to combine")
    starts = {w.window_start for w in windows}
    if len(starts) != 1:
        raise ValueError(f"windows start at different times: {sorted(starts)}")
    first = windows[0]
    worker_id = ",".join(sorted({w.worker_id for w in windows}))
    versions = {w.rule_set_version for w in windows}
    version = versions.pop() if len(versions) == 1 else None
    documents = sum(w.documents for w in windows)
    flagged = sum(w.flagged for w in windows)
    reviewed_flagged = sum(w.reviewed_flagged for w in windows)
    false_positives = sum(w.false_positives for w in windows)
    reasons: Counter[str] = Counter()
    reviews: Counter[str] = Counter()
    for w in windows:
        reasons.update(w.reasons)
        reviews.update(w.reviews)
    return PipelineMetricsWindow(
        event_id=_window_id(worker_id, first.window_start, version),
        worker_id=worker_id,
        window_start=first.window_start,
        window_end=max(w.window_end for w in windows),
        rule_set_version=version,
        documents=documents,
        auto_approved=sum(w.auto_approved for w in windows),
        flagged=flagged,
        flag_rate=rate(flagged, documents),
        reasons=dict(sorted(reasons.items())),
        merge_failures=sum(w.merge_failures for w in windows),
        dead_letters=sum(w.dead_letters for w in windows),
        rollbacks=sum(w.rollbacks for w in windows),
        reviews=dict(sorted(reviews.items())),
        reviewed_flagged=reviewed_flagged,
        false_positives=false_positives,
        false_positive_rate=rate(false_positives, reviewed_flagged),
        merge_latency_ms=_summed_latency(w.merge_latency_ms for w in windows),
        upload_to_merged_ms=_summed_latency(w.upload_to_merged_ms for w in windows),
    )
