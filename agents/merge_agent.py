"""The merge agent: batches from extraction.results and review.actions, acked only once written.

faust's `take()` acks its batch in a `finally` even when the body raises; `noack_take()` does
not, so a batch that was not written (crash, outage, shutdown) is redelivered, never lost.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime
from typing import Any

import faust

from agents.decode import RawRecord
from agents.pipeline import BatchProcessor, BatchResult, StoppingError
from optimerge.settings import Settings
from streams.producer import EventProducer
from streams.topics import Topics

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


class MergeWorker:
    """Owns the processor and the output producer; the faust agent only loops and acks."""

    def __init__(self, settings: Settings) -> None:
        assert settings.kafka_bootstrap_servers
        self.settings = settings
        self.stopping = threading.Event()
        self.processor = BatchProcessor(settings, stopping=self.stopping)
        self.producer = EventProducer(settings.kafka_bootstrap_servers)

    def handle(self, records: list[RawRecord]) -> BatchResult:
        """Write the batch, then publish its outputs; returns only when both are done."""
        result = self.processor.process(records)
        for out in result.outputs:
            self.producer.send(out.topic, out.value, key=out.key)
        self.producer.flush()
        return result

    def close(self) -> None:
        self.stopping.set()
        self.processor.close()


def register_merge_agent(app: faust.App, worker: MergeWorker) -> Any:
    settings = worker.settings
    topic = app.topic(*Topics(settings.topic_prefix).inputs())

    @app.agent(topic, name="merge")
    async def merge(stream: Any) -> None:
        async for events in stream.noack_take(
            settings.batch_max_events, within=settings.batch_within_seconds
        ):
            records = [raw_record(e) for e in events]
            await _handle_until_done(worker, records)
            for event in events:
                await stream.ack(event)

    return merge


async def _handle_until_done(worker: MergeWorker, records: list[RawRecord]) -> None:
    """Retry a batch that failed for a reason outside the data (e.g. Kafka down) with backoff."""
    delay = 0.5
    while True:
        try:
            await asyncio.to_thread(worker.handle, records)
            return
        except asyncio.CancelledError:
            worker.stopping.set()
            raise
        except StoppingError:
            raise asyncio.CancelledError from None
        except Exception:
            log.exception("batch of %d records failed; retrying in %.1f s", len(records), delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
