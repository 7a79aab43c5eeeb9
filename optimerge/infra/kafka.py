"""A Kafka node (KRaft) run from jars resolved from Maven Central: by default the single node
that is broker and controller at once; `kafka_cluster.py` runs several."""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from config import InfraSettings, KafkaEndpoint
from optimerge.infra import _ports, _process
from optimerge.infra._kafka_jars import JVM_DIR, resolve_kafka_jars
from optimerge.infra._process import InfraError, Log, ServiceStatus, log_to_stderr
from optimerge.infra.kafka_config import HOST, KafkaNode, render_server_properties, single_node
from optimerge.infra.kafka_security import format_scram_arg
from optimerge.infra.secrets import LocalSecrets
from streams.admin import wait_for_kafka


def cluster_id() -> str:
    """What `kafka-storage random-uuid` prints, without a JVM start (base64url of 16 bytes)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        # Kafka's own generator skips ids starting with "-": they read as command-line flags.
        if not text.startswith("-"):
            return text


# A one-shot tool: the quick-start JIT and serial GC suit it better than the broker's.
TOOL_FLAGS = ("-Xmx256m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def java_argv(
    classpath: list[Path],
    logs_dir: Path,
    main: str,
    *args: str,
    flags: tuple[str, ...] = TOOL_FLAGS,
) -> list[str]:
    """A JVM running `main` from Kafka's jars, logging to `<logs_dir>/server.log` only."""
    java = shutil.which("java")
    if not java:
        raise InfraError("Kafka needs `java` on PATH: run scripts/setup.sh")
    return [
        java, *flags, "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={JVM_DIR / 'log4j2.properties'}",
        f"-Dkafka.logs.dir={logs_dir}",
        "-cp", ":".join(f"{path}/*" for path in classpath), main, *args,
    ]  # fmt: skip


class LocalKafka:
    """One Kafka node: the single default node, or one `node` of a local cluster."""

    def __init__(
        self, infra: InfraSettings, log: Log = log_to_stderr, node: KafkaNode | None = None
    ) -> None:
        self.infra = infra
        self.log = log
        self.node = node or single_node(infra)
        # Absolute: the config path is how we recognise our broker's command line.
        self.dir = self.node.dir
        self.data_dir = self.dir / "data"
        self.logs_dir = self.dir / "logs"
        self.config = self.dir / "server.properties"
        self.pidfile = self.dir / "kafka.pid"
        self.output = self.logs_dir / "kafka.out"
        self.log_path = self.logs_dir / "server.log"
        self.libs = infra.cache_dir / f"kafka-{infra.kafka_version}" / "libs"
        self.secrets = LocalSecrets(infra.state_dir)
        # Written once the storage is formatted with the admin's SCRAM credential.
        self.secured_marker = self.dir / "sasl-scram"

    @property
    def bootstrap(self) -> str:
        return f"{self.node.host}:{self.node.port}"

    @property
    def admin_endpoint(self) -> KafkaEndpoint:
        """This node as the admin (super user): what the infra itself talks to it as."""
        return KafkaEndpoint(self.bootstrap, self.secrets.admin())

    def _check_secured(self) -> None:
        if (self.data_dir / "meta.properties").exists() and not self.secured_marker.exists():
            raise InfraError(
                f"the local Kafka in {self.dir} was formatted before brokers required "
                "authentication, and its admin has no SCRAM credential. Run `optimerge infra "
                f"down`, delete {self.dir.parent if self.node.brokers > 1 else self.dir} (its "
                "topics go with it) and `optimerge infra up` again"
            )

    def ensure_jars(self) -> Path:
        """Resolve the broker's classpath once into the cache; later runs reuse it."""
        return resolve_kafka_jars(self.infra.cache_dir, self.infra.kafka_version, self.log)

    def _java(self, main: str, *args: str, flags: tuple[str, ...] = TOOL_FLAGS) -> list[str]:
        return java_argv([self.libs], self.logs_dir, main, *args, flags=flags)

    def _format_once(self) -> None:
        if (self.data_dir / "meta.properties").exists():
            return
        # A half-formatted directory from an interrupted first start is redone.
        shutil.rmtree(self.data_dir, ignore_errors=True)
        cluster = self.node.cluster_id or cluster_id()
        scram = format_scram_arg(self.secrets.password("admin"))
        self._run_tool(
            "format", *self.node.format_args, "-t", cluster, "-c", str(self.config),
            "--add-scram", scram,
        )  # fmt: skip
        self.secured_marker.write_text("formatted with the admin's SCRAM-SHA-512 credential\n")
        self.log(f"formatted KRaft storage in {self.data_dir} (cluster id {cluster})")

    def _run_tool(self, *args: str) -> str:
        argv = self._java("kafka.tools.StorageTool", *args)
        # umask 077: the tool writes the broker's log file too, which is its owner's only.
        done = subprocess.run(
            argv, capture_output=True, text=True, check=False, cwd=self.dir, umask=0o077
        )
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
        version, address, name = self.infra.kafka_version, self.bootstrap, self.node.label
        self._check_secured()
        _process.wait_while_exiting(self.pidfile)
        pid = self.pid()
        if pid is not None:
            if not wait_for_kafka(self.admin_endpoint, timeout):
                raise InfraError(
                    f"{name} (pid {pid}) runs but does not answer on {address} within "
                    f"{timeout:.0f} s; see {self.log_path}:\n{_process.tail(self.log_path)}"
                )
            self.log(f"{name} {version} already running on {address} (pid {pid})")
            return address
        ports = [(self.node.port, self.node.host, self.node.port_setting)]
        if self.node.controller_port is not None:
            ports.append((self.node.controller_port, HOST, self.node.controller_port_setting))
        for port, host, setting in ports:
            if _ports.port_in_use(port, host):
                raise _ports.port_conflict(f"cannot start {name} {version}", port, setting, host)
        self.ensure_jars()
        self.logs_dir.mkdir(parents=True, exist_ok=True)
        properties = render_server_properties(
            self.infra,
            self.data_dir,
            self.node,
            admin_password=self.secrets.password("admin"),
            plain_passwords=self.secrets.passwords(),
        )
        # It holds the admin's password.
        self.config.touch(mode=0o600)
        self.config.chmod(0o600)
        self.config.write_text(properties)
        self._format_once()
        self.log(f"starting {name} {version} on {address} (log: {self.log_path})")
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
                _ports.port_answers(self.node.port, self.node.host)
                and wait_for_kafka(self.admin_endpoint, timeout=2.0)
            ),
            timeout=timeout,
            alive=lambda: _process.is_alive(pid),
        )
        if not ready:
            died = not _process.is_alive(pid)
            _process.terminate(pid, timeout=10)
            self.pidfile.unlink(missing_ok=True)
            raise InfraError(
                f"{name} {version} {'exited' if died else f'did not answer within {timeout:.0f} s'}"
                f" on {address}; last lines of {self.log_path}:\n{_process.tail(self.log_path)}\n"
                f"JVM output ({self.output}):\n{_process.tail(self.output, 10)}"
            )
        self.log(f"{name} ready in {time.monotonic() - started:.1f} s")
        return address

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop our broker if it runs; True if there was one to stop."""
        pid = self.pid()
        if pid is None:
            self.pidfile.unlink(missing_ok=True)
            return False
        self.log(f"stopping {self.node.label} (pid {pid})")
        _process.terminate(pid, timeout=timeout)
        self.pidfile.unlink(missing_ok=True)
        return True

    def status(self) -> ServiceStatus:
        pid = self.pid()
        return ServiceStatus(self.node.name, pid is not None, pid, self.bootstrap, self.log_path)
