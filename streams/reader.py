"""Reading a topic from its beginning to its current end (no consumer group, nothing committed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition


@dataclass(frozen=True, slots=True)
class Record:
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def read_to_end(bootstrap: str, topic: str, timeout: float = 10.0) -> Iterator[Record]:
    """Every message on `topic` now, oldest first per partition; stops at the end it saw first."""
    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            # Required by librdkafka; never joined (assign, not subscribe) and never committed.
            "group.id": "optimerge-topic-reader",
            "enable.auto.commit": False,
            "fetch.message.max.bytes": 8 * 1024 * 1024,
        }
    )
    try:
        metadata = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise LookupError(f"topic {topic} does not exist")
        ends = {}
        for p in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
            if high > low:
                ends[p] = high
        if not ends:
            return
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in ends])
        while ends:
            msg = consumer.poll(timeout)
            if msg is None:
                raise TimeoutError(f"reading {topic} stalled for {timeout} s")
            if msg.error():
                continue
            part, offset = msg.partition() or 0, msg.offset() or 0
            if offset + 1 >= ends.get(part, 0):
                ends.pop(part, None)
            yield Record(part, offset, msg.key(), msg.value() or b"")
    finally:
        consumer.close()
