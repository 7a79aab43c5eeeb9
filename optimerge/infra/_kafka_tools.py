"""Kafka's own `kafka-metadata-quorum` tool, for the KRaft quorum in `infra status`.

Only the kafka-tools jar is copied (not its dependencies: they would pull in Kafka Connect); the
broker's classpath already has everything MetadataQuorumCommand loads."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from optimerge.infra._process import InfraError, Log
from optimerge.infra.kafka import java_argv
from optimerge.infra.kafka_security import command_config

_MARKER = ".complete"
QUORUM_MAIN = "org.apache.kafka.tools.MetadataQuorumCommand"


def tools_dir(cache_dir: Path, version: str) -> Path:
    return cache_dir / f"kafka-{version}" / "tools"


def resolve_kafka_tools(cache_dir: Path, version: str, log: Log) -> Path:
    """`<cache_dir>/kafka-<version>/tools`, with kafka-tools-<version>.jar, copied once."""
    tools = tools_dir(cache_dir, version)
    if (tools / _MARKER).exists():
        return tools
    mvn = shutil.which("mvn")
    if not mvn:
        raise InfraError("the Kafka tools need `mvn` on PATH: run scripts/setup.sh")
    tools.mkdir(parents=True, exist_ok=True)
    # Two sessions resolving at once would copy into the same directory.
    with (cache_dir / f"kafka-{version}-tools.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (tools / _MARKER).exists():
            return tools
        log(f"copying kafka-tools {version} from Maven Central into {tools} (first run only)")
        argv = [
            mvn, "-q", "-B", "org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy",
            f"-Dartifact=org.apache.kafka:kafka-tools:{version}", f"-DoutputDirectory={tools}",
        ]  # fmt: skip
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not any(tools.glob("kafka-tools-*.jar")):
            output = "\n".join((done.stdout + done.stderr).splitlines()[-20:])
            raise InfraError(
                f"could not copy kafka-tools {version} from Maven Central (mvn exit "
                f"{done.returncode}; is the network up?):\n{output}"
            )
        (tools / _MARKER).write_text(" ".join(argv) + "\n")
    return tools


@dataclass(frozen=True)
class QuorumMember:
    node_id: int
    log_end_offset: int
    lag: int
    # Epoch milliseconds of its last fetch from the leader (-1: never).
    last_fetch_ms: int
    # Leader, Follower (the other voters) or Observer (brokers that only read the log).
    status: str


def parse_replication(text: str) -> list[QuorumMember]:
    """The table of `kafka-metadata-quorum describe --replication`."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines or lines[0][:1] != ["NodeId"]:
        raise InfraError(f"unexpected kafka-metadata-quorum output:\n{text}")
    header = lines[0]
    names = ("NodeId", "LogEndOffset", "Lag", "LastFetchTimestamp", "Status")
    try:
        column = {name: header.index(name) for name in names}
    except ValueError as exc:
        raise InfraError(f"unexpected kafka-metadata-quorum output ({exc}):\n{text}") from exc
    return [
        QuorumMember(
            node_id=int(row[column["NodeId"]]),
            log_end_offset=int(row[column["LogEndOffset"]]),
            lag=int(row[column["Lag"]]),
            last_fetch_ms=int(row[column["LastFetchTimestamp"]]),
            status=row[column["Status"]],
        )
        for row in lines[1:]
        if len(row) == len(header)
    ]


def describe_quorum(
    libs: Path,
    tools: Path,
    logs_dir: Path,
    bootstrap: str,
    timeout: float = 20.0,
    *,
    admin_password: str,
) -> list[QuorumMember]:
    """Every voter and observer of the metadata quorum, as the active controller sees it."""
    logs_dir.mkdir(parents=True, exist_ok=True)
    # Without it the admin client retries for a minute when the quorum has no leader.
    config = logs_dir / "quorum-tool.properties"
    half = int(timeout * 1000) // 2
    config.touch(mode=0o600)
    config.chmod(0o600)  # the admin's password is in it
    config.write_text(
        f"default.api.timeout.ms={half}\nrequest.timeout.ms={half}\n"
        + command_config(admin_password)
    )
    argv = java_argv(
        [libs, tools], logs_dir, QUORUM_MAIN, "--bootstrap-server", bootstrap,
        "--command-config", str(config), "describe", "--replication",
    )  # fmt: skip
    try:
        done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise InfraError(f"kafka-metadata-quorum did not answer within {timeout:.0f} s") from exc
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).strip().splitlines()
        raise InfraError(
            f"kafka-metadata-quorum failed (exit {done.returncode}): {' '.join(lines[-3:])}"
        )
    return parse_replication(done.stdout)
