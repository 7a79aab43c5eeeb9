"""What `infra status` says about a local Kafka cluster beyond its processes: the KRaft
quorum and the partitions whose replicas are not all in sync."""

from __future__ import annotations

import time
from dataclasses import dataclass

from optimerge.infra._kafka_tools import QuorumMember, describe_quorum, tools_dir
from optimerge.infra._process import InfraError
from optimerge.infra.kafka_cluster import KafkaCluster
from streams.admin import admin_client
from streams.security import Kafka

_SHOWN = 5


@dataclass(frozen=True)
class PartitionHealth:
    partitions: int
    # "topic[partition] in sync 1,2 of 1,2,3"
    under_replicated: list[str]
    # Partitions without a leader: nobody can read or write them.
    offline: list[str]


def partition_health(kafka: Kafka, timeout: float = 10.0) -> PartitionHealth:
    try:
        topics = admin_client(kafka).list_topics(timeout=timeout).topics
    except Exception as exc:  # KafkaException, or a timeout with every broker down
        raise InfraError(f"no broker answers: {exc}") from exc
    under, offline, total = [], [], 0
    for name in sorted(topics):
        for pid, part in sorted(topics[name].partitions.items()):
            total += 1
            label = f"{name}[{pid}]"
            if part.leader < 0:
                offline.append(label)
            if len(part.isrs) < len(part.replicas):
                in_sync = ",".join(map(str, sorted(part.isrs))) or "none"
                under.append(f"{label} in sync {in_sync} of {','.join(map(str, part.replicas))}")
    return PartitionHealth(total, under, offline)


# Followers fetch every few hundred ms: older than this, the node is likely gone.
STALE_FETCH_SECONDS = 5.0


def _voter(member: QuorumMember, now: float) -> str:
    text = f"{member.node_id} (lag {member.lag}"
    age = now - member.last_fetch_ms / 1000
    if member.status != "Leader" and member.last_fetch_ms > 0 and age > STALE_FETCH_SECONDS:
        text += f", no fetch for {age:.0f} s"
    return text + ")"


def describe_members(members: list[QuorumMember], now: float | None = None) -> str:
    now = time.time() if now is None else now
    leader = [m.node_id for m in members if m.status == "Leader"]
    voters = [m for m in members if m.status in ("Leader", "Follower")]
    observers = [m.node_id for m in members if m.status == "Observer"]
    text = f"leader {leader[0] if leader else 'none'}, voters " + ", ".join(
        _voter(m, now) for m in voters
    )
    return text + (f"; observers {', '.join(map(str, observers))}" if observers else "")


def cluster_report(cluster: KafkaCluster) -> list[str]:
    """Lines for `infra status` (quorum and partitions); errors become lines, not raises."""
    infra = cluster.infra
    try:
        members = describe_quorum(
            cluster.nodes[0].libs,
            tools_dir(infra.cache_dir, infra.kafka_version),
            cluster.dir / "tools",
            cluster.bootstrap,
            admin_password=cluster.nodes[0].secrets.password("admin"),
        )
        quorum = describe_members(members)
    except InfraError as exc:
        quorum = f"unknown: {exc}"
    lines = [f"{'quorum':<10} {quorum}"]
    try:
        health = partition_health(cluster.admin_endpoint)
    except InfraError as exc:
        return [*lines, f"{'partitions':<10} unknown: {exc}"]
    lines.append(
        f"{'partitions':<10} {health.partitions} total, {len(health.under_replicated)} "
        f"under-replicated, {len(health.offline)} offline"
    )
    for label in health.under_replicated[:_SHOWN]:
        lines.append(f"{'':<10}   under-replicated: {label}")
    for label in health.offline[:_SHOWN]:
        lines.append(f"{'':<10}   offline: {label}")
    hidden = len(health.under_replicated[_SHOWN:]) + len(health.offline[_SHOWN:])
    if hidden:
        lines.append(f"{'':<10}   ... and {hidden} more")
    return lines
