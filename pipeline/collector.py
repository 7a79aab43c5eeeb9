"""The garbage collector's settings for a long-lived process that merges (a worker, the bench)."""

from __future__ import annotations

import gc


def settle_collector() -> None:
    """Everything alive now lives as long as the process: keep the collector from rescanning
    it, and let young garbage pile up a little longer (each batch allocates many small dicts)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
