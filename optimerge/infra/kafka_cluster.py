"""A local Kafka of N nodes (`infra up --brokers N`); N = 1 is the single default node.

The layout (node ids, ports, cluster and directory ids) is written to `<state_dir>/kafka/
cluster.json` before the first format: the controllers' endpoints are in the metadata log, so
every later `up`, `status`, `env` and `down` must use exactly these, whatever the settings say."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from config import InfraSettings, KafkaEndpoint
from optimerge.infra import _ports
from optimerge.infra._kafka_tools import resolve_kafka_tools
from optimerge.infra._process import InfraError, Log, ServiceStatus, log_to_stderr
from optimerge.infra.kafka import LocalKafka, cluster_id
from optimerge.infra.kafka_config import HOST, KafkaNode, replication_policy
from streams.admin import admin_client

LAYOUT_FILE = "cluster.json"
# Three voters survive the loss of one; more would only slow down every metadata commit.
MAX_CONTROLLERS = 3


@dataclass(frozen=True)
class NodeRecord:
    node_id: int
    port: int
    controller_port: int | None
    directory_id: str | None


@dataclass(frozen=True)
class ClusterLayout:
    cluster_id: str
    nodes: tuple[NodeRecord, ...]

    @classmethod
    def plan(cls, infra: InfraSettings, brokers: int) -> ClusterLayout:
        """Node n (1-based) listens on kafka_port + 2(n-1) and, if a controller, on
        kafka_controller_port + 2(n-1). Two brokers get one controller: a quorum of two would
        stop when either is lost, so it would be no safer than one."""
        controllers = MAX_CONTROLLERS if brokers >= MAX_CONTROLLERS else 1
        nodes = tuple(
            NodeRecord(
                node_id=n,
                port=infra.kafka_port + 2 * (n - 1),
                controller_port=infra.kafka_controller_port + 2 * (n - 1)
                if n <= controllers
                else None,
                directory_id=cluster_id() if n <= controllers else None,
            )
            for n in range(1, brokers + 1)
        )
        ports = [p for node in nodes for p in (node.port, node.controller_port) if p is not None]
        if len(set(ports)) != len(ports):
            raise InfraError(
                f"a {brokers}-broker Kafka needs ports kafka_port + 2i and kafka_controller_port "
                f"+ 2i to be distinct, but {infra.kafka_port} and {infra.kafka_controller_port} "
                "overlap: set OPTIMERGE_INFRA__KAFKA_CONTROLLER_PORT to kafka_port + 1"
            )
        return cls(cluster_id(), nodes)

    @classmethod
    def load(cls, kafka_dir: Path) -> ClusterLayout | None:
        path = kafka_dir / LAYOUT_FILE
        try:
            data: dict[str, Any] = json.loads(path.read_text())
            return cls(data["cluster_id"], tuple(NodeRecord(**n) for n in data["nodes"]))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise InfraError(f"{path} is not a cluster layout ({exc}); delete {kafka_dir}") from exc

    def save(self, kafka_dir: Path) -> None:
        kafka_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps({"cluster_id": self.cluster_id, "nodes": [asdict(n) for n in self.nodes]})
        (kafka_dir / LAYOUT_FILE).write_text(text + "\n")

    def kafka_nodes(self, kafka_dir: Path) -> list[KafkaNode]:
        controllers = [n for n in self.nodes if n.controller_port is not None]
        quorum = tuple(f"{HOST}:{n.controller_port}" for n in controllers)
        initial = ",".join(
            f"{n.node_id}@{HOST}:{n.controller_port}:{n.directory_id}" for n in controllers
        )
        nodes = []
        for record in self.nodes:
            if record.controller_port is None:
                format_args: tuple[str, ...] = ("--no-initial-controllers",)
            elif len(controllers) == 1:
                format_args = ("--standalone",)
            else:
                format_args = ("--initial-controllers", initial)
            nodes.append(
                KafkaNode(
                    node_id=record.node_id,
                    port=record.port,
                    controller_port=record.controller_port,
                    dir=kafka_dir / f"node-{record.node_id}",
                    quorum=quorum,
                    brokers=len(self.nodes),
                    format_args=format_args,
                    cluster_id=self.cluster_id,
                )
            )
        return nodes


def recorded_brokers(kafka_dir: Path) -> int | None:
    """How many brokers the state dir holds: a layout, the single node's data, or nothing."""
    layout = ClusterLayout.load(kafka_dir)
    if layout is not None:
        return len(layout.nodes)
    return 1 if (kafka_dir / "data" / "meta.properties").exists() else None


class KafkaCluster:
    """The local Kafka as the state dir has it (else as `infra.kafka_brokers` asks, else 1)."""

    def __init__(self, infra: InfraSettings, log: Log = log_to_stderr) -> None:
        self.infra = infra
        self.log = log
        self.dir = (infra.state_dir / "kafka").resolve()
        self.recorded = recorded_brokers(self.dir)
        self.size = self.recorded or infra.kafka_brokers or 1
        self.layout = ClusterLayout.load(self.dir)
        if self.layout is None and self.size > 1:
            self.layout = ClusterLayout.plan(infra, self.size)
        self.nodes = (
            [LocalKafka(infra, log)]
            if self.layout is None
            else [LocalKafka(infra, log, node) for node in self.layout.kafka_nodes(self.dir)]
        )

    @property
    def bootstrap(self) -> str:
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def admin_endpoint(self) -> KafkaEndpoint:
        return KafkaEndpoint(self.bootstrap, self.nodes[0].secrets.admin())

    @property
    def replication_factor(self) -> int:
        return replication_policy(self.size)[0]

    def running(self) -> bool:
        return any(node.pid() is not None for node in self.nodes)

    def start(self, timeout: float = 90.0) -> str:
        """Start the nodes that are not running, side by side (a quorum needs a majority up
        before any broker answers); returns the bootstrap list once all brokers are in."""
        wanted = self.infra.kafka_brokers
        if self.recorded is not None and wanted is not None and wanted != self.recorded:
            raise InfraError(
                f"the local Kafka in {self.dir} has {self.recorded} broker(s), not {wanted}: "
                f"the number is fixed when a cluster is formatted. Run `optimerge infra down`, "
                f"delete {self.dir} (its topics go with it) and `optimerge infra up --brokers "
                f"{wanted}`, or use another OPTIMERGE_INFRA__STATE_DIR"
            )
        if self.size == 1:
            return self.nodes[0].start(timeout)
        assert self.layout is not None
        self._check_ports()
        if self.recorded is None:
            self.layout.save(self.dir)
        self.nodes[0].ensure_jars()
        try:
            resolve_kafka_tools(self.infra.cache_dir, self.infra.kafka_version, self.log)
        except InfraError as missing:
            # Only `infra status` needs the tool: say so, and run the cluster anyway.
            self.log(f"warning: `infra status` will not show the quorum: {missing}")
        started = time.monotonic()
        with ThreadPoolExecutor(len(self.nodes), thread_name_prefix="kafka-node") as pool:
            futures = [pool.submit(node.start, timeout) for node in self.nodes]
        errors = [str(exc) for f in futures if (exc := f.exception()) is not None]
        if errors:
            raise InfraError("\n\n".join(errors))
        self._wait_for_all_brokers(timeout)
        self.log(
            f"Kafka cluster of {self.size} brokers ready in {time.monotonic() - started:.1f} s"
        )
        return self.bootstrap

    def _check_ports(self) -> None:
        for node in self.nodes:
            if node.pid() is not None:
                continue
            for port in (node.node.port, node.node.controller_port):
                if port is None or not _ports.port_in_use(port):
                    continue
                holder = _ports.listener_of(port) or "a connection in TIME_WAIT (retry shortly)"
                fix = (
                    f"the cluster in {self.dir} was formatted with these ports: stop it, or "
                    f"`optimerge infra down` and delete {self.dir} to choose others"
                    if self.recorded
                    else "stop it, or choose other base ports with OPTIMERGE_INFRA__KAFKA_PORT "
                    "and OPTIMERGE_INFRA__KAFKA_CONTROLLER_PORT (node n uses base + 2(n-1))"
                )
                raise InfraError(
                    f"cannot start {node.node.label}: port {port} on {HOST} is in use by "
                    f"{holder}; {fix}"
                )

    def _wait_for_all_brokers(self, timeout: float) -> None:
        # A broker answers before the others registered; topics with 3 replicas need all three.
        admin = admin_client(self.admin_endpoint)
        deadline = time.monotonic() + timeout
        seen: set[int] = set()
        while time.monotonic() < deadline:
            try:
                seen = set(admin.list_topics(timeout=5).brokers)
            except Exception:  # KafkaException: no broker answered this time, try again
                seen = set()
            if len(seen) == self.size:
                return
            time.sleep(0.2)
        raise InfraError(
            f"only brokers {sorted(seen)} of {self.size} registered within {timeout:.0f} s; "
            f"see the logs in {self.dir}/node-*/logs/server.log"
        )

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop our nodes, all at once; True if any was running."""
        with ThreadPoolExecutor(len(self.nodes), thread_name_prefix="kafka-stop") as pool:
            stopped = list(pool.map(lambda node: node.stop(timeout), self.nodes))
        return any(stopped)

    def status(self) -> list[ServiceStatus]:
        return [node.status() for node in self.nodes]
