"""Where a document's upload-to-delivered time goes, as one Prometheus histogram by stage
(docs/contract.md#prometheus-metrics): queued (upload -> received by the worker: Kafka delivery
and waiting behind the batch in flight), merged (received -> its batch committed and its outputs
built), delivered (committed -> the outputs acknowledged by Kafka), total (upload -> delivered).

A batch's stages after `queued` are one value for all its documents: it is counted once with the
batch's size as weight (a bucket add, not one observation per document), to keep the hot path
lean; prometheus_client's Histogram has no weights, hence this small collector."""

from __future__ import annotations

import threading
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence

from prometheus_client import CollectorRegistry
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

STAGES = ("queued", "merged", "delivered", "total")
# Seconds: fine below 250 ms, where the latency targets are (docs/contract.md#commands).
STAGE_BUCKETS = (
    0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075,
    0.1, 0.125, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
NAME = "optimerge_stage_seconds"


class StageHistogram(Collector):
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._lock = threading.Lock()
        # Per stage: a count per bucket (the last one: above every bound), and the sum.
        self._counts = {s: [0] * (len(STAGE_BUCKETS) + 1) for s in STAGES}
        self._sums = dict.fromkeys(STAGES, 0.0)
        if registry is not None:
            registry.register(self)

    def observe_batch(self, queued: Sequence[float], merged: float, delivered: float) -> None:
        """One batch: each document's queued seconds, and the batch's merged and delivered."""
        if not queued:
            return
        n = len(queued)
        with self._lock:
            self._add("merged", merged, n)
            self._add("delivered", delivered, n)
            for q in queued:
                self._add("queued", q, 1)
                self._add("total", q + merged + delivered, 1)

    def _add(self, stage: str, value: float, weight: int) -> None:
        value = max(0.0, value)
        self._counts[stage][bisect_left(STAGE_BUCKETS, value)] += weight
        self._sums[stage] += value * weight

    def collect(self) -> Iterator[HistogramMetricFamily]:
        family = HistogramMetricFamily(
            NAME,
            "Seconds a merged document spent in each stage: queued (upload to received by the "
            "worker), merged (to committed), delivered (to outputs acknowledged), total.",
            labels=["stage"],
        )
        with self._lock:
            for stage in STAGES:
                family.add_metric(
                    [stage], list(_cumulative(self._counts[stage])), self._sums[stage]
                )
        yield family


def _cumulative(counts: Iterable[int]) -> Iterator[tuple[str, float]]:
    total = 0
    bounds = [*(repr(b) for b in STAGE_BUCKETS), "+Inf"]
    for bound, c in zip(bounds, counts, strict=True):
        total += c
        yield bound, total
