"""The stage histogram: a batch counted once with its size as weight, read as Prometheus reads."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest

from agents.stages import STAGE_BUCKETS, StageHistogram


def _buckets(registry: CollectorRegistry, stage: str) -> dict[str, float]:
    found = {}
    for family in registry.collect():
        for sample in family.samples:
            if sample.name.endswith("_bucket") and sample.labels["stage"] == stage:
                found[sample.labels["le"]] = sample.value
    return found


def test_a_batch_counts_every_document_in_every_stage():
    registry = CollectorRegistry()
    stages = StageHistogram(registry)
    stages.observe_batch([0.004, 0.04, 0.4], merged=0.02, delivered=0.002)
    merged = _buckets(registry, "merged")
    assert merged["0.015"] == 0 and merged["0.02"] == 3 and merged["+Inf"] == 3
    queued = _buckets(registry, "queued")
    assert queued["0.005"] == 1 and queued["0.05"] == 2 and queued["0.5"] == 3
    total = _buckets(registry, "total")
    assert total["0.03"] == 1 and total["+Inf"] == 3
    assert len(merged) == len(STAGE_BUCKETS) + 1
    assert b"optimerge_stage_seconds_sum" in generate_latest(registry)


def test_an_empty_batch_or_a_clock_behind_counts_nothing_negative():
    registry = CollectorRegistry()
    stages = StageHistogram(registry)
    stages.observe_batch([], merged=1.0, delivered=1.0)
    assert _buckets(registry, "merged")["+Inf"] == 0
    stages.observe_batch([-5.0], merged=0.0, delivered=0.0)
    assert _buckets(registry, "queued")["0.001"] == 1
