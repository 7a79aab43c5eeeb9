"""The upload-to-delivered split, read from the workers' own `optimerge_stage_seconds`
histograms (agents/stages.py) before and after a phase: what the phase added, by stage."""

from __future__ import annotations

import math
import urllib.request
from collections.abc import Sequence

from prometheus_client.parser import text_string_to_metric_families

Buckets = dict[str, list[tuple[float, float]]]  # stage -> [(upper bound s, cumulative count)]
NAME = "optimerge_stage_seconds"


def scrape(ports: Sequence[int]) -> Buckets:
    """The stage histograms of the workers on these metrics ports, summed."""
    total: dict[str, dict[float, float]] = {}
    for port in ports:
        url = f"http://127.0.0.1:{port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            text = response.read().decode()
        for family in text_string_to_metric_families(text):
            if family.name != NAME:
                continue
            for sample in family.samples:
                if not sample.name.endswith("_bucket"):
                    continue
                bound = float(sample.labels["le"])
                stage = total.setdefault(sample.labels["stage"], {})
                stage[bound] = stage.get(bound, 0.0) + sample.value
    return {s: sorted(b.items()) for s, b in total.items()}


def added(before: Buckets, after: Buckets) -> Buckets:
    out: Buckets = {}
    for stage, buckets in after.items():
        old = dict(before.get(stage, []))
        out[stage] = [(bound, count - old.get(bound, 0.0)) for bound, count in buckets]
    return out


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Milliseconds at quantile q (0..1), interpolated within its bucket (as Prometheus'
    histogram_quantile does); None without observations."""
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in buckets:
        if count >= rank:
            if math.isinf(bound):
                return lower * 1000
            width = count - below
            share = (rank - below) / width if width else 1.0
            return (lower + (bound - lower) * share) * 1000
        lower, below = bound, count
    return lower * 1000


def split(buckets: Buckets) -> dict[str, dict[str, float | None]]:
    """p50/p95/p99 ms per stage, and how many documents it counted."""
    out: dict[str, dict[str, float | None]] = {}
    for stage, b in buckets.items():
        out[stage] = {
            "p50_ms": quantile(b, 0.50),
            "p95_ms": quantile(b, 0.95),
            "p99_ms": quantile(b, 0.99),
            "count": b[-1][1] if b else 0,
        }
    return out
