"""The audit.checkpoints topic: every signed checkpoint it holds now, and publishing new ones
(what a signature proves is for pipeline/ to judge)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas.audit import AuditCheckpoint
from streams.consumers import read_to_end
from streams.producer import EventProducer
from streams.security import Kafka
from streams.topics import BoundTopic


@dataclass
class CheckpointRecords:
    records: list[AuditCheckpoint] = field(default_factory=list)
    # Messages that are no checkpoint at all (not even a forged one): counted, never trusted.
    unreadable: int = 0


def read_checkpoints(
    kafka: Kafka, topic: BoundTopic[AuditCheckpoint], timeout: float = 10.0, tries: int = 5
) -> CheckpointRecords:
    for attempt in range(tries):
        try:
            return _read(kafka, topic, timeout)
        except TimeoutError:
            # A partition whose leader just moved (or was just created): ask again shortly.
            if attempt == tries - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def _read(kafka: Kafka, topic: BoundTopic[AuditCheckpoint], timeout: float) -> CheckpointRecords:
    found = CheckpointRecords()
    for record in read_to_end(kafka, topic.name, timeout=timeout):
        if not record.value:
            continue  # a tombstone: the key is gone, which the verifier then notices
        try:
            found.records.append(topic.decode(record.value))
        except ValueError:
            found.unreadable += 1
    return found


def publish_checkpoints(
    kafka: Kafka, topic: BoundTopic[AuditCheckpoint], checkpoints: Iterable[AuditCheckpoint]
) -> int:
    """Publish and wait until every one is written (raises DeliveryFailedError otherwise)."""
    with EventProducer(kafka) as producer:
        for checkpoint in checkpoints:
            producer.publish(topic, checkpoint)
        producer.flush()
        return producer.delivered
