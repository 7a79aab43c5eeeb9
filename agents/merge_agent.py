"""The merge agent: batches from extraction.results and review.actions, acked only once written.

faust's `take()` acks its batch in a `finally` even when the body raises; `noack_take()` and
our `LoadSizedBatches` (agents/batching.py: batches sized by the load) do not, so a batch
that was not written (crash, outage, shutdown) is redelivered, never lost.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import faust

from agents.batching import LoadSizedBatches
from agents.worker import MergeWorker
from pipeline.batch import StoppingError
from pipeline.decode import RawRecord

log = logging.getLogger(__name__)


def raw_record(event: Any) -> RawRecord:
    message = event.message
    return RawRecord(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        timestamp=datetime.fromtimestamp(message.timestamp, UTC),
    )


def register_merge_agent(app: faust.App, worker: MergeWorker) -> Any:
    settings = worker.settings
    topic = app.topic(*worker.topics.inputs())

    @app.agent(topic, name="merge")
    async def merge(stream: Any) -> None:
        batches = LoadSizedBatches(
            stream, settings.batch_max_events, within=settings.batch_within_seconds
        )
        # With the next batch already waiting, this one's delivery overlaps its merge.
        defer = (lambda: batches.waiting() > 0) if settings.overlap_delivery else None
        unacked: list[Any] = []  # handled, their outputs not yet confirmed: never acked before
        async for events in batches:
            records = [raw_record(e) for e in events]
            settled = await _handle_until_done(worker, records, defer)
            unacked.extend(events)
            if settled:
                for event in unacked:
                    await stream.ack(event)
                unacked.clear()

    @app.timer(interval=min(5.0, settings.metrics_window_seconds / 4))  # type: ignore[untyped-decorator]
    async def publish_metrics() -> None:
        highwaters: dict[tuple[str, int], int] = {}
        for tp in app.consumer.assignment():
            hw = app.consumer.highwater(tp)
            if hw is not None:
                highwaters[(tp.topic, tp.partition)] = hw
        worker.set_lag(highwaters)
        await asyncio.to_thread(worker.publish_windows)

    return merge


async def _handle_until_done(
    worker: MergeWorker, records: list[RawRecord], defer: Callable[[], bool] | None
) -> bool:
    """The batch, handled whatever it holds (outages waited out, a poison event set aside), in
    a thread: the event loop keeps heartbeating meanwhile. True when it may be acked, with
    every batch before it."""
    try:
        return await asyncio.to_thread(worker.handle_until_done, records, defer_delivery=defer)
    except asyncio.CancelledError:
        worker.stopping.set()
        raise
    except StoppingError:
        raise asyncio.CancelledError from None
