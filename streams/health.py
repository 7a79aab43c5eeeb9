"""What Kafka says about the pipeline's health (docs/contract.md#health): a metadata round trip,
the merge workers' consumer group (members, assignment, committed offsets, lag per partition)
and the workers' latest heartbeats. Read-only: nothing here joins a group or commits."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from confluent_kafka import ConsumerGroupTopicPartitions, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._listoffsets import OffsetSpec
from pydantic import ValidationError

from schemas.health import WorkerHeartbeat
from streams.consumers import tail_consumer
from streams.security import Kafka, client_options
from streams.topics import BoundTopic


@dataclass(frozen=True, slots=True)
class KafkaProbe:
    ok: bool
    latency_ms: float
    brokers: int
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Member:
    member_id: str
    client_id: str
    host: str
    assignment: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    # The group's committed offset (None: nothing committed yet) and the log's end offset.
    committed: int | None
    end: int
    lag: int


@dataclass(frozen=True, slots=True)
class GroupState:
    group_id: str
    state: str
    members: tuple[Member, ...] = ()
    partitions: tuple[PartitionLag, ...] = ()
    error: str | None = None

    @property
    def total_lag(self) -> int:
        return sum(p.lag for p in self.partitions)


@dataclass(frozen=True, slots=True)
class KafkaHealth:
    probe: KafkaProbe
    group: GroupState | None = None
    heartbeats: list[WorkerHeartbeat] = field(default_factory=list)


def _admin(kafka: Kafka, timeout: float) -> AdminClient:
    config: dict[str, Any] = {
        **client_options(kafka),
        "logger": logging.getLogger("streams.health"),
        "socket.timeout.ms": int(timeout * 1000),
    }
    return AdminClient(config)


def probe_kafka(admin: AdminClient, timeout: float) -> KafkaProbe:
    started = time.perf_counter()
    try:
        metadata = admin.list_topics(timeout=timeout)
    except KafkaException as exc:
        elapsed = (time.perf_counter() - started) * 1000
        return KafkaProbe(False, elapsed, 0, f"no metadata from Kafka: {exc}")
    elapsed = (time.perf_counter() - started) * 1000
    return KafkaProbe(bool(metadata.brokers), elapsed, len(metadata.brokers))


def probe_kafka_once(kafka: Kafka, timeout: float) -> KafkaProbe:
    """A metadata round trip on a fresh client (the app's readiness check)."""
    return probe_kafka(_admin(kafka, timeout), timeout)


def describe_group(
    admin: AdminClient, group_id: str, topics: Iterable[str], timeout: float
) -> GroupState:
    """Members and lag of `group_id` on every partition of `topics`."""
    try:
        description = admin.describe_consumer_groups([group_id], request_timeout=timeout)[
            group_id
        ].result(timeout)
        members = tuple(
            Member(
                m.member_id,
                m.client_id,
                m.host,
                tuple(
                    sorted((tp.topic, tp.partition) for tp in (m.assignment.topic_partitions or []))
                ),
            )
            for m in description.members
        )
        request = [ConsumerGroupTopicPartitions(group_id)]
        offsets = admin.list_consumer_group_offsets(request, request_timeout=timeout)[
            group_id
        ].result(timeout)
        committed = {
            (tp.topic, tp.partition): tp.offset
            for tp in offsets.topic_partitions or []
            if tp.offset >= 0
        }
        metadata = admin.list_topics(timeout=timeout).topics
        wanted = [
            TopicPartition(name, p)
            for name in topics
            if name in metadata
            for p in sorted(metadata[name].partitions)
        ]
        ends = _end_offsets(admin, wanted, timeout)
    except KafkaException as exc:
        return GroupState(group_id, "unknown", error=f"cannot describe group {group_id}: {exc}")
    partitions = tuple(
        PartitionLag(topic, partition, committed.get((topic, partition)), end, lag=0)
        for (topic, partition), (_start, end) in ends.items()
    )
    partitions = tuple(
        PartitionLag(
            p.topic,
            p.partition,
            p.committed,
            p.end,
            max(
                0,
                p.end
                - (p.committed if p.committed is not None else ends[(p.topic, p.partition)][0]),
            ),
        )
        for p in partitions
    )
    state = getattr(description.state, "name", str(description.state)).lower()
    return GroupState(group_id, state, members, partitions)


def _end_offsets(
    admin: AdminClient, partitions: list[TopicPartition], timeout: float
) -> dict[tuple[str, int], tuple[int, int]]:
    """(earliest, latest) offset of each partition: lag without a commit counts from the start."""
    found: dict[tuple[str, int], list[int]] = {
        (tp.topic, tp.partition): [0, 0] for tp in partitions
    }
    if not partitions:
        return {}
    for slot, spec in ((0, OffsetSpec.earliest()), (1, OffsetSpec.latest())):  # type: ignore[no-untyped-call]
        futures = admin.list_offsets(dict.fromkeys(partitions, spec), request_timeout=timeout)
        for tp, future in futures.items():
            found[(tp.topic, tp.partition)][slot] = future.result(timeout).offset
    return {key: (low, high) for key, (low, high) in found.items()}


def recent_heartbeats(
    kafka: Kafka, topic: BoundTopic[WorkerHeartbeat], since: datetime, timeout: float = 5.0
) -> list[WorkerHeartbeat]:
    """The latest heartbeat of every worker that sent one at or after `since`."""
    consumer = tail_consumer(kafka, purpose="heartbeats")
    latest: dict[str, WorkerHeartbeat] = {}
    try:
        meta = consumer.list_topics(topic.name, timeout=timeout).topics.get(topic.name)
        if meta is None or meta.error is not None:
            return []
        since_ms = int(since.timestamp() * 1000)
        asked = [TopicPartition(topic.name, p, since_ms) for p in sorted(meta.partitions)]
        starts = consumer.offsets_for_times(asked, timeout=timeout)
        waiting: dict[int, int] = {}
        assign: list[TopicPartition] = []
        for tp in starts:
            _low, high = consumer.get_watermark_offsets(tp, timeout=timeout)
            if tp.offset < 0 or tp.offset >= high:
                continue  # nothing sent since then on this partition
            assign.append(tp)
            waiting[tp.partition] = high
        consumer.assign(assign)
        deadline = time.monotonic() + timeout
        while waiting and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            partition, offset = msg.partition() or 0, msg.offset() or 0
            if offset + 1 >= waiting.get(partition, 0):
                waiting.pop(partition, None)
            try:
                beat = topic.decode(msg.value() or b"")
            except ValidationError:
                continue
            seen = latest.get(beat.worker_id)
            if seen is None or beat.at >= seen.at:
                latest[beat.worker_id] = beat
    except KafkaException:
        return list(latest.values())
    finally:
        consumer.close()
    return sorted(latest.values(), key=lambda b: b.worker_id)


def kafka_health(
    kafka: Kafka,
    group_id: str,
    input_topics: Iterable[str],
    heartbeat_topic: BoundTopic[WorkerHeartbeat],
    heartbeats_since: datetime,
    timeout: float = 5.0,
) -> KafkaHealth:
    admin = _admin(kafka, timeout)
    probe = probe_kafka(admin, timeout)
    if not probe.ok:
        return KafkaHealth(probe)
    group = describe_group(admin, group_id, input_topics, timeout)
    beats = recent_heartbeats(kafka, heartbeat_topic, heartbeats_since, timeout)
    return KafkaHealth(probe, group, beats)


def messages_on(kafka: Kafka, topic: str, timeout: float = 5.0) -> int | None:
    """How many messages `topic` has received in all (sum of its end offsets); None when Kafka
    does not say."""
    admin = _admin(kafka, timeout)
    try:
        metadata = admin.list_topics(topic, timeout=timeout).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return None
        wanted = [TopicPartition(topic, p) for p in sorted(metadata.partitions)]
        return sum(high for _low, high in _end_offsets(admin, wanted, timeout).values())
    except KafkaException:
        return None
