"""The bench's figures from its repeats: medians (of nested figures too), the ratios against the
raw COPY, the own-schema COPY and the naive consumer, and each target met or not."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

# docs/contract.md#commands (`bench`): issue 17's targets, on the machine the bench runs on.
TARGETS: dict[str, tuple[str, float]] = {
    "pipeline/raw_copy": (">=", 0.5),
    "pipeline/naive": (">=", 20.0),
    "half_p99_ms": ("<=", 150.0),
    "half_p50_ms": ("<=", 30.0),
    "big_merge_p99_ms": ("<=", 25.0),
    "big_remerge_p99_ms": ("<=", 25.0),
}
# Per-run samples, kept for the median run only (the report's plots), not in every run.
SERIES = ("throughput", "half_latencies_ms")

Median = Callable[[Sequence[float]], float]


def _medians(runs: Sequence[dict[str, Any]], median: Median) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, first in runs[0].items():
        if isinstance(first, dict):
            out[key] = _medians([r[key] for r in runs], median)
        elif isinstance(first, int | float) and not isinstance(first, bool):
            out[key] = median([r[key] for r in runs if r.get(key) is not None])
        elif first is None:
            present = [r[key] for r in runs if isinstance(r.get(key), int | float)]
            out[key] = median(present) if present else None
    return out


def _met(name: str, value: float | None) -> dict[str, Any]:
    sign, target = TARGETS[name]
    met = value is not None and (value >= target if sign == ">=" else value <= target)
    return {"value": value, "target": f"{sign} {target:g}", "met": met}


def summarise(
    *,
    config: dict[str, Any],
    runs: list[dict[str, Any]],
    load: tuple[tuple[float, float, float], tuple[float, float, float]],
    rule_check_us: float,
    big: dict[str, float],
    median_of: Median,
) -> dict[str, Any]:
    by_rate = sorted(runs, key=lambda r: r["documents_per_s"])
    middle = by_rate[len(by_rate) // 2]
    series = {key: middle[key] for key in SERIES if key in middle}
    lean = [{k: v for k, v in r.items() if k not in SERIES} for r in runs]
    m = _medians(lean, median_of)
    rate = m["documents_per_s"]
    ratios = {
        "pipeline/raw_copy": rate / m["raw_copy_documents_per_s"],
        "pipeline/own_schema_copy": rate / m["ceiling_documents_per_s"],
        "pipeline/naive": rate / m["naive_documents_per_s"],
    }
    # The name of the own-schema ratio before issue 17, kept for scripts (docs/contract.md).
    ratios["pipeline/ceiling"] = ratios["pipeline/own_schema_copy"]
    targets = {
        "pipeline/raw_copy": _met("pipeline/raw_copy", ratios["pipeline/raw_copy"]),
        "pipeline/naive": _met("pipeline/naive", ratios["pipeline/naive"]),
        "half_p99_ms": _met("half_p99_ms", m.get("half_p99_ms")),
        "half_p50_ms": _met("half_p50_ms", m.get("half_p50_ms")),
        "big_merge_p99_ms": _met("big_merge_p99_ms", big.get("merge_p99_ms")),
        "big_remerge_p99_ms": _met("big_remerge_p99_ms", big.get("remerge_p99_ms")),
    }
    return {
        "config": config,
        "load_average": {"before": list(load[0]), "after": list(load[1])},
        "runs": lean,
        "median": m,
        "ratios": ratios,
        "targets": targets,
        "rule_check_us_per_document": rule_check_us,
        "big_document": big,
        "series": series,
    }
