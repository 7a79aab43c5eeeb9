"""faust's Kafka consumer with isolation.level=read_committed.

faust reads uncommitted records unless it runs transactions itself; an upstream producer that
aborts a transaction must not have its records merged. faust has no setting for it, so its
aiokafka transport is subclassed at the one place the consumer is built."""

from __future__ import annotations

from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

READ_COMMITTED = "read_committed"


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Read by aiokafka's fetcher when the consumer starts; nothing has used it yet.
        consumer._isolation_level = READ_COMMITTED
        return consumer


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(faust_aiokafka.Transport):
    Consumer = _Consumer


def use_read_committed(app: faust.App) -> None:
    """Make `app`'s worker consumer read committed records only (before the app starts)."""
    app.transport = _Transport(app.conf.broker_consumer, app)
