"""A single-node Kafka (KRaft, broker + controller) run from jars resolved from Maven Central."""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from config import InfraSettings
from optimerge.infra import _ports, _process
from optimerge.infra._kafka_jars import JVM_DIR, resolve_kafka_jars
from optimerge.infra._process import InfraError, Log, ServiceStatus, log_to_stderr
from streams.admin import wait_for_kafka
from streams.topics import MAX_MESSAGE_BYTES


def render_server_properties(infra: InfraSettings, data_dir: Path) -> str:
    host = "127.0.0.1"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{host}:{infra.kafka_controller_port}",
        "listeners": (
            f"PLAINTEXT://{host}:{infra.kafka_port},CONTROLLER://{host}:{infra.kafka_controller_port}"
        ),
        "advertised.listeners": f"PLAINTEXT://{host}:{infra.kafka_port}",
        "inter.broker.listener.name": "PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data_dir),
        "num.partitions": "12",
        "auto.create.topics.enable": "false",
        "group.initial.rebalance.delay.ms": "0",
        # Fewer than the default 50 partitions: the first consumer group comes up faster.
        "offsets.topic.num.partitions": "12",
        "offsets.topic.replication.factor": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        # A 5 MB poison payload must reach the worker so that it can be dead-lettered.
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
    }
    header = "# Written by optimerge.infra.kafka on every start; edit InfraSettings instead.\n"
    return header + "".join(f"{key}={value}\n" for key, value in props.items())


def cluster_id() -> str:
    """What `kafka-storage random-uuid` prints, without a JVM start (base64url of 16 bytes)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Kafka's own generator skips ids starting with "-": they read as command-line flags.
        if not text.startswith("-"):
            return text


class LocalKafka:
    def __init__(self, infra: InfraSettings, log: Log = log_to_stderr) -> None:
        self.infra = infra
        self.log = log
        # Absolute: the config path is how we recognise our broker's command line.
        self.dir = (infra.state_dir / "kafka").resolve()
        self.data_dir = self.dir / "data"
        self.logs_dir = self.dir / "logs"
        self.config = self.dir / "server.properties"
        self.pidfile = self.dir / "kafka.pid"
        self.output = self.logs_dir / "kafka.out"
        self.log_path = self.logs_dir / "server.log"
        self.libs = infra.cache_dir / f"kafka-{infra.kafka_version}" / "libs"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.infra.kafka_port}"

    def ensure_jars(self) -> Path:
        """Resolve the broker's classpath once into the cache; later runs reuse it."""
        return resolve_kafka_jars(self.infra.cache_dir, self.infra.kafka_version, self.log)

    # A one-shot tool: the quick-start JIT and serial GC suit it better than the broker's.
    _TOOL_FLAGS = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")

    def _java(self, main: str, *args: str, flags: tuple[str, ...] = _TOOL_FLAGS) -> list[str]:
        java = shutil.which("java")
        if not java:
            raise InfraError("Kafka needs `java` on PATH: run scripts/setup.sh")
        return [
            java, *flags, "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={JVM_DIR / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={self.logs_dir}",
            "-cp", f"{self.libs}/*", main, *args,
        ]  # fmt: skip

    def _format_once(self) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        # A half-formatted directory from an interrupted first start is redone.
        shutil.rmtree(self.data_dir, ignore_errors=True)
        cluster = cluster_id()
        self._run_tool("format", "--standalone", "-t", cluster, "-c", str(self.config))
        self.log(f"formatted KRaft storage in {self.data_dir} (cluster id {cluster})")

    def _run_tool(self, *args: str) -> str:
        argv = self._java("kafka.tools.StorageTool", *args)
        done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=self.dir)
        if done.returncode != 0:
            raise InfraError(
                f"kafka-storage {args[0]} failed (exit {done.returncode}):\n"
                f"{done.stdout}{done.stderr}\nlog: {self.log_path}"
            )
        return done.stdout

    def pid(self) -> int | None:
        return _process.read_pid(self.pidfile, marker=str(self.config))

    def start(self, timeout: float = 90.0) -> str:
        """Start (or reuse) the broker; returns its bootstrap address once it answers."""
        version, address = self.infra.kafka_version, self.bootstrap
        pid = self.pid()
        if pid is not None:
            if not wait_for_kafka(address, timeout):
                raise InfraError(
                    f"Kafka (pid {pid}) runs but does not answer on {address} within "
                    f"{timeout:.0f} s; see {self.log_path}:\n{_process.tail(self.log_path)}"
                )
            self.log(f"Kafka {version} already running on {address} (pid {pid})")
            return address
        for port, setting in (
            (self.infra.kafka_port, "OPTIMERGE_INFRA__KAFKA_PORT"),
            (self.infra.kafka_controller_port, "OPTIMERGE_INFRA__KAFKA_CONTROLLER_PORT"),
        ):
            if _ports.port_in_use(port):
                raise _ports.port_conflict(f"cannot start Kafka {version}", port, setting)
        self.ensure_jars()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        self.config.write_text(render_server_properties(self.infra, self.data_dir))
        self._format_once()
        self.log(f"starting Kafka {version} on {address} (log: {self.log_path})")
        started = time.monotonic()
        heap = self.infra.kafka_heap
        # Kafka's own start script flags, plus: die on OOM rather than limp along.
        flags = (
            f"-Xmx{heap}",
            f"-Xms{heap}",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
        )
        argv = self._java("kafka.Kafka", str(self.config), flags=flags)
        pid = _process.spawn(argv, pidfile=self.pidfile, output=self.output)
        ready = _process.wait_until(
            lambda: (
                _ports.port_answers(self.infra.kafka_port) and wait_for_kafka(address, timeout=2.0)
            ),
            timeout=timeout,
            alive=lambda: _process.is_alive(pid),
        )
        if not ready:
            died = not _process.is_alive(pid)
            _process.terminate(pid, timeout=10)
            self.pidfile.unlink(missing_ok=True)
            raise InfraError(
                f"Kafka {version} {'exited' if died else f'did not answer within {timeout:.0f} s'}"
                f" on {address}; last lines of {self.log_path}:\n{_process.tail(self.log_path)}\n"
                f"JVM output ({self.output}):\n{_process.tail(self.output, 10)}"
            )
        self.log(f"Kafka ready in {time.monotonic() - started:.1f} s")
        return address

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop our broker if it runs; True if there was one to stop."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        self.log(f"stopping Kafka (pid {pid})")
        _process.terminate(pid, timeout=timeout)
        self.pidfile.unlink(missing_ok=True)
        return True

    def status(self) -> ServiceStatus:
        pid = self.pid()
        return ServiceStatus("kafka", pid is not None, pid, self.bootstrap, self.log_path)
