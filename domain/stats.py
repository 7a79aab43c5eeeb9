"""The one percentile of optimerge (nearest rank, as the metrics windows and the bench report
it), and the one interval of a proportion (Wilson, for false-positive rates)."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence


def percentile(samples: Sequence[float], q: float, *, is_sorted: bool = False) -> float:
    """The smallest sample with at least q % (0..100) of all samples at or below it: p50 of
    1..10 is 5. Pass `is_sorted` when the samples are sorted already (the hot path)."""
    if not samples:
        raise ValueError("no samples")
    ordered = samples if is_sorted else sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    """The median of benchmark repeats (nan when there are none)."""
    return statistics.median(values) if values else float("nan")


def wilson_interval(successes: float, trials: float, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval (95 % by default) of a proportion: honest near 0 and 1 and for
    small samples, where the normal approximation is not. (0, 1) when there is no trial."""
    if trials <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, successes / trials))
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)
