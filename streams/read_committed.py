"""faust's Kafka consumer with isolation.level=read_committed, and fetches that wait a moment.

faust reads uncommitted records unless it runs transactions itself; an upstream producer that
aborts a transaction must not have its records merged. faust has no setting for it, so its
aiokafka transport is subclassed at the one place the consumer is built.

faust also fixes aiokafka's fetch: the broker answers as soon as one byte is there. Events that
trickle in then come a few per fetch, and every fetch, batch and transaction costs the same CPU
on the two or three processes it passes through: on a shared machine, at half the rate it could
take, the cores were 93 % busy (docs/bench.md, fifth pass). A fetch may instead wait up to
`max_wait_ms` for `min_bytes`: fuller fetches, at most that much latency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

READ_COMMITTED = "read_committed"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """What the broker waits for before it answers a fetch (Kafka's fetch.min.bytes and
    fetch.max.wait.ms): whichever comes first."""

    min_bytes: int = 1
    max_wait_ms: int = 1500  # faust's own


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by aiokafka's fetcher when the consumer starts; nothing has used them yet.
        consumer._isolation_level = READ_COMMITTED
        fetch: FetchPolicy = getattr(transport, "fetch", FetchPolicy())
        consumer._fetch_min_bytes = fetch.min_bytes
        consumer._fetch_max_wait_ms = fetch.max_wait_ms
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer
    fetch = FetchPolicy()


def use_read_committed(app: faust.App, fetch: FetchPolicy | None = None) -> None:
    """Make `app`'s worker consumer read committed records only, and fetch by `fetch` (before
    the app starts)."""
    transport = _Transport(app.conf.broker_consumer, app)
    if fetch is not None:
        transport.fetch = fetch
    app.transport = transport
