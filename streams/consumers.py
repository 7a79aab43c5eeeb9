"""The project's confluent-kafka consumers. Most read without a consumer group (the live feed,
the monitor, the DLQ reader, anyone waiting for an outcome): they assign partitions themselves
and never commit, so any number of them read every message and none takes partitions away from
another. `group_consumer` is for the rare reader that shares work and commits."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from streams.security import Kafka, client_options
from streams.topics import MAX_MESSAGE_BYTES

Start = Literal["beginning", "end"]


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


class TopicMissingError(LookupError):
    """A topic to read does not exist (yet)."""


def tail_consumer(kafka: Kafka, *, purpose: str, **overrides: Any) -> Consumer:
    """A consumer for `assign_all`: joins no group, commits nothing."""
    config: dict[str, Any] = {
        **client_options(kafka),
        # Required by librdkafka even when never joined (assign, not subscribe).
        "group.id": f"optimerge-{purpose}-{uuid.uuid4().hex[:12]}",
        "enable.auto.commit": False,
        "enable.partition.eof": False,
        "fetch.message.max.bytes": MAX_MESSAGE_BYTES,
        # Idle connections are closed by brokers: no news for anyone's log.
        "log.connection.close": False,
        "logger": logging.getLogger(f"streams.consumers.{purpose}"),
    }
    config.update(overrides)
    return Consumer(config)


def group_consumer(kafka: Kafka, group_id: str, **overrides: Any) -> Consumer:
    """A consumer that joins `group_id` and commits only when told (subscribe, then poll)."""
    config: dict[str, Any] = {
        **client_options(kafka),
        "group.id": group_id,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "fetch.message.max.bytes": MAX_MESSAGE_BYTES,
        "logger": logging.getLogger(f"streams.consumers.{group_id}"),
    }
    config.update(overrides)
    return Consumer(config)


def assign_all(
    consumer: Consumer, names: Iterable[str], *, start: Start, timeout: float = 5.0
) -> dict[tuple[str, int], int]:
    """Assign every partition of `names` from its beginning or from its current end; returns
    the end offset each assigned partition had when looked at (a message produced right after
    that is read, never skipped). From the beginning, empty partitions are left out."""
    partitions: list[TopicPartition] = []
    ends: dict[tuple[str, int], int] = {}
    for name in names:
        meta = consumer.list_topics(name, timeout=timeout).topics.get(name)
        if meta is None or meta.error is not None or not meta.partitions:
            raise TopicMissingError(f"topic {name} does not exist")
        for p in sorted(meta.partitions):
            low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=timeout)
            if start == "end":
                partitions.append(TopicPartition(name, p, high))
            elif high > low:
                partitions.append(TopicPartition(name, p, OFFSET_BEGINNING))
            else:
                continue  # nothing to read from the beginning of an empty partition
            ends[(name, p)] = high
    consumer.assign(partitions)
    return ends


def read_to_end(kafka: Kafka, topic: str, timeout: float = 10.0) -> Iterator[Record]:
    """Every message on `topic` now, oldest first per partition; stops at the end it saw first."""
    consumer = tail_consumer(kafka, purpose="topic-reader")
    try:
        try:
            ends = assign_all(consumer, [topic], start="beginning", timeout=timeout)
        except KafkaException as exc:
            raise TimeoutError(f"reading {topic}: {exc}") from exc
        waiting = dict(ends)
        while waiting:
            msg = consumer.poll(timeout)
            if msg is None:
                raise TimeoutError(f"reading {topic} stalled for {timeout} s")
            if msg.error():
                continue
            tp, offset = (topic, msg.partition() or 0), msg.offset() or 0
            if offset + 1 >= waiting.get(tp, 0):
                waiting.pop(tp, None)
            yield Record(topic, tp[1], offset, msg.key(), msg.value() or b"")
    finally:
        consumer.close()
