"""Create and delete the pipeline's topics, and wait for a broker, with confluent-kafka's
AdminClient."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from typing import Any

from confluent_kafka import KafkaError, KafkaException

# NewTopic is re-exported at runtime but missing from confluent-kafka 2.16's type stubs.
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from streams.security import Kafka, client_options, endpoint_of
from streams.topics import MAX_MESSAGE_BYTES, Topics


class TopicError(RuntimeError):
    """A topic could not be created or deleted, or exists with the wrong layout."""


def admin_client(kafka: Kafka) -> AdminClient:
    """The project's admin client (metadata, topics, groups, ACLs)."""
    # librdkafka's connection chatter (connection refused while a broker boots) goes to logging.
    config: dict[str, Any] = {
        **client_options(kafka),
        "logger": logging.getLogger("streams.admin"),
    }
    return AdminClient(config)


def wait_for_kafka(kafka: Kafka, timeout: float) -> bool:
    """True once a broker answers a metadata request (authenticated, if `kafka` says how)."""
    admin = admin_client(kafka)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if admin.list_topics(timeout=min(2.0, max(0.1, deadline - time.monotonic()))).brokers:
                return True
        except Exception:  # any failure here just means "not yet"
            time.sleep(0.1)
    return False


def _error_code(exc: KafkaException) -> int | None:
    err = exc.args[0] if exc.args else None
    return err.code() if isinstance(err, KafkaError) else None


def min_insync_for(replication_factor: int) -> int:
    """Three copies of which two must ack (one broker may go); fewer copies: every one."""
    return 2 if replication_factor >= 3 else 1


def ensure_topics(
    kafka: Kafka,
    topics: Topics,
    partitions: int,
    replication_factor: int = 1,
    timeout: float = 30,
    min_insync_replicas: int | None = None,
    names: Iterable[str] | None = None,
) -> list[str]:
    """Create the missing topics of `topics.all()` (or of `names` among them: a principal
    may see only its own); returns the names created. Each gets `min.insync.replicas`
    (default: `min_insync_for(replication_factor)`), so that a producer with acks=all is
    acknowledged only once that many replicas have the write."""
    only = None if names is None else set(names)
    wanted = tuple(n for n in topics.all() if only is None or n in only)
    admin = admin_client(kafka)
    bootstrap = endpoint_of(kafka).bootstrap
    existing = admin.list_topics(timeout=timeout).topics
    wrong = [
        f"{name} has {len(existing[name].partitions)}"
        for name in topics.inputs()
        if name in wanted and name in existing and len(existing[name].partitions) != partitions
    ]
    if wrong:
        raise TopicError(
            f"input topics must have {partitions} partitions (co-partitioned by patient_id), "
            f"but {'; '.join(wrong)}. Set `partitions` to match, or delete and recreate them."
        )
    min_isr = str(min_insync_replicas or min_insync_for(replication_factor))
    new = [
        NewTopic(
            name,
            num_partitions=partitions,
            replication_factor=replication_factor,
            config={"min.insync.replicas": min_isr} | _topic_config(topics, name),
        )
        for name in wanted
        if name not in existing
    ]
    if not new:
        return []
    futures = admin.create_topics(new, operation_timeout=timeout, request_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            # Someone else created it in the meantime: fine.
            if _error_code(exc) != KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicError(f"could not create topic {name} on {bootstrap}: {exc}") from exc
    created = [t.topic for t in new]
    _wait_for_leaders(admin, created, timeout)
    return created


def _topic_config(topics: Topics, name: str) -> dict[str, str]:
    config: dict[str, str] = {}
    if name in topics.large():
        config["max.message.bytes"] = str(MAX_MESSAGE_BYTES)
    if (retention := topics.retention().get(name)) is not None:
        config["retention.ms"] = str(retention)
    if name in topics.compacted():
        config["cleanup.policy"] = "compact"
    if name == topics.review_actions.name:
        # The broker's clock stamps review actions: one appended long after it was signed is
        # a replay (pipeline/signatures.py), whatever time its producer claims.
        config["message.timestamp.type"] = "LogAppendTime"
    return config


def _wait_for_leaders(admin: AdminClient, names: list[str], timeout: float) -> None:
    # Creation returns before every partition has a leader; a produce right after would retry.
    deadline = time.monotonic() + timeout
    while True:
        metadata = admin.list_topics(timeout=timeout).topics
        if all(
            name in metadata
            and metadata[name].error is None
            and metadata[name].partitions
            and all(p.leader >= 0 for p in metadata[name].partitions.values())
            for name in names
        ):
            return
        if time.monotonic() > deadline:
            raise TopicError(f"topics {names} have no leader after {timeout:.0f} s")
        time.sleep(0.05)


def delete_topics(kafka: Kafka, names: Iterable[str], timeout: float = 30) -> None:
    """Delete `names`; topics that do not exist are fine."""
    names = list(names)
    if not names:
        return
    # Keep the client referenced until the futures resolve: destroying it cancels them.
    admin = admin_client(kafka)
    bootstrap = endpoint_of(kafka).bootstrap
    futures = admin.delete_topics(names, operation_timeout=timeout, request_timeout=timeout)
    for name, future in futures.items():
        try:
            future.result(timeout=timeout)
        except KafkaException as exc:
            if _error_code(exc) != KafkaError.UNKNOWN_TOPIC_OR_PART:
                raise TopicError(f"could not delete topic {name} on {bootstrap}: {exc}") from exc


def partition_leaders(
    kafka: Kafka, names: Iterable[str], timeout: float = 10
) -> dict[tuple[str, int], int]:
    """The broker id leading each partition of `names` (-1: none), from the cluster metadata."""
    wanted = set(names)
    metadata = admin_client(kafka).list_topics(timeout=timeout).topics
    return {
        (name, pid): part.leader
        for name, topic in metadata.items()
        if name in wanted
        for pid, part in topic.partitions.items()
    }
