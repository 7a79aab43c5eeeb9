"""The one percentile of optimerge: nearest rank, as the metrics windows and the bench report it."""

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
