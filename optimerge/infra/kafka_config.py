"""What a local Kafka node is (id, ports, place in the KRaft quorum) and its server.properties."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from config import InfraSettings
from optimerge.infra.kafka_security import CLIENT, CONTROLLER, security_properties
from streams.topics import MAX_MESSAGE_BYTES

HOST = "127.0.0.1"


def replication_policy(brokers: int) -> tuple[int, int]:
    """(replication factor, min.insync.replicas) on `brokers` brokers: three copies, two of
    which must have a write before it is acknowledged; fewer brokers keep what they can."""
    factor = min(brokers, 3)
    return factor, 2 if factor >= 3 else 1


@dataclass(frozen=True)
class KafkaNode:
    """One node of the local Kafka: ports, directory, role in the KRaft quorum, how to format."""

    node_id: int
    port: int
    # None: a broker only; the quorum is elsewhere.
    controller_port: int | None
    dir: Path
    quorum: tuple[str, ...]
    brokers: int
    format_args: tuple[str, ...]
    # None: a fresh cluster id when the node is formatted (the single node).
    cluster_id: str | None = None
    port_setting: str = "OPTIMERGE_INFRA__KAFKA_PORT"
    controller_port_setting: str = "OPTIMERGE_INFRA__KAFKA_CONTROLLER_PORT"

    @property
    def name(self) -> str:
        return "kafka" if self.brokers == 1 else f"kafka-{self.node_id}"

    @property
    def label(self) -> str:
        return "Kafka" if self.brokers == 1 else f"Kafka node {self.node_id}"


def single_node(infra: InfraSettings) -> KafkaNode:
    """The default: one node, broker and controller, in `<state_dir>/kafka`."""
    return KafkaNode(
        node_id=1,
        port=infra.kafka_port,
        controller_port=infra.kafka_controller_port,
        dir=(infra.state_dir / "kafka").resolve(),
        quorum=(f"{HOST}:{infra.kafka_controller_port}",),
        brokers=1,
        format_args=("--standalone",),
    )


def render_server_properties(
    infra: InfraSettings,
    data_dir: Path,
    node: KafkaNode | None = None,
    *,
    admin_password: str,
    plain_passwords: dict[str, str] | None = None,
) -> str:
    """The node's server.properties; it holds the admin's password: write it 0600."""
    node = node or single_node(infra)
    host = HOST
    listeners = f"{CLIENT}://{host}:{node.port}"
    if node.controller_port is not None:
        listeners += f",{CONTROLLER}://{host}:{node.controller_port}"
    factor, min_isr = replication_policy(node.brokers)
    props = {
        "process.roles": "broker,controller" if node.controller_port is not None else "broker",
        "node.id": str(node.node_id),
        "controller.quorum.bootstrap.servers": ",".join(node.quorum),
        "listeners": listeners,
        "advertised.listeners": f"{CLIENT}://{host}:{node.port}",
        "controller.listener.names": CONTROLLER,
        **security_properties(admin_password, plain_passwords),
        "log.dirs": str(data_dir),
        "num.partitions": "12",
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        # Topics created without explicit settings get the cluster's durability too.
        "default.replication.factor": str(factor),
        "min.insync.replicas": str(min_isr),
        # Fewer than the default 50 partitions: the first consumer group comes up faster.
        "offsets.topic.num.partitions": "12",
        "offsets.topic.replication.factor": str(factor),
        "transaction.state.log.replication.factor": str(factor),
        "transaction.state.log.min.isr": str(min_isr),
        "share.coordinator.state.topic.replication.factor": str(factor),
        "share.coordinator.state.topic.min.isr": str(min_isr),
        # A 5 MB poison payload must reach the worker so that it can be dead-lettered.
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
    }
    header = "# Written by optimerge.infra.kafka on every start; edit InfraSettings instead.\n"
    return header + "".join(f"{key}={value}\n" for key, value in props.items())
