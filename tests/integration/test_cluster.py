"""`infra up --brokers 3 --postgres-standby`: a real 3-broker KRaft cluster and a Patroni pair,
their status, a broker SIGKILLed and a primary SIGKILLed. One instance for the module (its own
state dir and ports); the tests run in order and each leaves it healthy again."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pytest
from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from config import InfraSettings, KafkaEndpoint, Settings
from optimerge.infra import down, status
from optimerge.infra._ports import free_port_block
from optimerge.infra._process import is_alive
from optimerge.infra.patroni import PatroniPostgres
from optimerge.infra.secrets import LocalSecrets
from streams.producer import EventProducer
from streams.security import client_options
from streams.topics import Topics
from tests.cli_runner import run_optimerge
from tests.fix_infra import make_state_dir, progress_log

pytestmark = [pytest.mark.integration, pytest.mark.cluster, pytest.mark.slow]


@dataclass(frozen=True)
class Cluster:
    env: dict[str, str]
    infra: InfraSettings
    bootstrap: str
    database_url: str
    say: Callable[[str], None]
    # The schema owner's URL: the worker's role (DATABASE_URL) may create no table.
    owner_url: str

    @property
    def admin(self) -> KafkaEndpoint:
        """The cluster as its admin: the brokers authenticate every client."""
        return KafkaEndpoint(self.bootstrap, LocalSecrets(self.infra.state_dir).admin())

    def status(self) -> tuple[int, str]:
        done = run_optimerge("infra", "status", timeout=60, **self.env)
        return done.returncode, done.stdout + done.stderr


def _exports(stdout: str) -> dict[str, str]:
    pairs = [shlex.split(line)[1] for line in stdout.splitlines() if line.startswith("export ")]
    return dict(pair.split("=", 1) for pair in pairs)


def _wait_for(what: str, check: Callable[[], bool], timeout: float, interval: float = 1.0) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what}: not within {timeout:.0f} s")
        time.sleep(interval)
    return time.monotonic() - started


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    state_dir = make_state_dir("optimerge-test-cluster-")
    # One block, so no two services draw the same port: 6 Kafka, 2 PostgreSQL, 2 REST, 2 etcd.
    base = free_port_block(12)
    infra = InfraSettings(
        state_dir=state_dir,
        kafka_port=base,
        kafka_controller_port=base + 1,
        postgres_port=base + 6,
        patroni_port=base + 8,
        etcd_port=base + 10,
    )
    env = {
        "OPTIMERGE_INFRA__STATE_DIR": str(state_dir),
        "OPTIMERGE_INFRA__KAFKA_PORT": str(infra.kafka_port),
        "OPTIMERGE_INFRA__KAFKA_CONTROLLER_PORT": str(infra.kafka_controller_port),
        "OPTIMERGE_INFRA__POSTGRES_PORT": str(infra.postgres_port),
        "OPTIMERGE_INFRA__PATRONI_PORT": str(infra.patroni_port),
        "OPTIMERGE_INFRA__ETCD_PORT": str(infra.etcd_port),
        # Local servers, even in a session pointed at external ones.
        "KAFKA_BOOTSTRAP_SERVERS": "",
        "DATABASE_URL": "",
    }
    say = progress_log(request.config)
    try:
        started = time.monotonic()
        args = ("infra", "up", "--brokers", "3", "--postgres-standby")
        done = run_optimerge(*args, timeout=240, **env)
        assert done.returncode == 0, done.stderr
        took = time.monotonic() - started
        say(f"3 brokers + Patroni pair up, topics created, schema migrated in {took:.1f} s")
        exports = _exports(done.stdout)
        yield Cluster(
            env,
            infra,
            exports["KAFKA_BOOTSTRAP_SERVERS"],
            exports["DATABASE_URL"],
            say,
            exports["OPTIMERGE_MIGRATION_DATABASE_URL"],
        )
    finally:
        down(Settings(kafka_bootstrap_servers=None, database_url=None, infra=infra), log=say)
        shutil.rmtree(state_dir, ignore_errors=True)


def test_up_prints_every_broker_both_servers_and_the_replication_factor(cluster: Cluster) -> None:
    base, pg = cluster.infra.kafka_port, cluster.infra.postgres_port
    assert cluster.bootstrap == f"127.0.0.1:{base},127.0.0.1:{base + 2},127.0.0.1:{base + 4}"
    done = run_optimerge("infra", "env", **cluster.env)
    exports = _exports(done.stdout)
    assert exports["OPTIMERGE_REPLICATION_FACTOR"] == "3"
    both = f"@127.0.0.1:{pg},127.0.0.1:{pg + 1}/optimerge?target_session_attrs=read-write"
    for name, role in (
        ("DATABASE_URL", "optimerge_worker"),
        ("OPTIMERGE_APP_DATABASE_URL", "optimerge_app"),
        ("OPTIMERGE_MIGRATION_DATABASE_URL", "optimerge"),
    ):
        assert exports[name].startswith(f"postgresql://{role}:") and exports[name].endswith(both)


def test_status_shows_three_brokers_the_quorum_and_no_under_replicated_partition(
    cluster: Cluster,
) -> None:
    code, out = cluster.status()

    assert code == 0, out
    for node in (1, 2, 3):
        assert f"kafka-{node}    running" in out, out
    [quorum] = [line for line in out.splitlines() if line.startswith("quorum")]
    assert "leader " in quorum and "leader none" not in quorum, quorum
    assert all(f"{node} (lag " in quorum for node in (1, 2, 3)), quorum
    assert ", 0 under-replicated, 0 offline" in out, out
    patroni = [line for line in out.splitlines() if line.startswith("patroni")]
    assert sorted(line.split(": ")[1].split(",")[0] for line in patroni) == [
        "leader",
        "sync_standby",
    ], out


def test_topics_have_three_replicas_and_need_two_in_sync(cluster: Cluster) -> None:
    admin = AdminClient(client_options(cluster.admin))
    metadata = admin.list_topics(timeout=10).topics
    for name in Topics().all():
        assert {len(p.replicas) for p in metadata[name].partitions.values()} == {3}, name
        resource = ConfigResource("topic", name)
        config = admin.describe_configs([resource])[resource].result(10)
        assert config["min.insync.replicas"].value == "2", name


def _read_keys(bootstrap: KafkaEndpoint, topic: str, prefix: str, count: int) -> set[str]:
    # A consumer of confluent-kafka reads committed records only by default.
    consumer = Consumer(
        {
            **client_options(bootstrap),
            "group.id": f"test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "isolation.level": "read_committed",
        }
    )
    consumer.subscribe([topic])
    keys: set[str] = set()
    deadline = time.monotonic() + 60
    try:
        while len(keys) < count and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None and (key := msg.key()):
                keys.update([key.decode()] if key.decode().startswith(prefix) else [])
    finally:
        consumer.close()
    return keys


def test_a_killed_broker_is_shown_down_and_acks_all_still_delivers(cluster: Cluster) -> None:
    pid = int((cluster.infra.state_dir / "kafka" / "node-3" / "kafka.pid").read_text())
    os.kill(pid, signal.SIGKILL)

    outputs: list[str] = []

    def under_replicated() -> bool:
        code, out = cluster.status()
        outputs.append(out)
        return code == 1 and ", 0 under-replicated" not in out

    seen = _wait_for("under-replicated partitions after SIGKILL", under_replicated, timeout=45)
    assert "kafka-3    stopped" in outputs[-1], outputs[-1]
    prefix, topic = f"k-{uuid.uuid4().hex[:6]}-", Topics().extraction_results.name
    started = time.monotonic()
    with EventProducer(cluster.admin) as producer:  # acks=all, idempotent
        for i in range(50):
            producer.send(topic, b"{}", key=f"{prefix}{i}")
    delivered = time.monotonic() - started
    assert len(_read_keys(cluster.admin, topic, prefix, 50)) == 50

    done = run_optimerge("infra", "up", timeout=120, **cluster.env)  # no --brokers: from state
    assert done.returncode == 0, done.stderr
    healed = _wait_for(
        "all partitions in sync again", lambda: ", 0 under-replicated" in cluster.status()[1], 60
    )
    cluster.say(
        f"broker 3 SIGKILLed: status showed it down with under-replicated partitions after "
        f"{seen:.1f} s; 50 acks=all messages delivered in {delivered:.1f} s with 2 of 3 "
        f"brokers; `infra up` restarted it, in sync {healed:.1f} s later"
    )


def test_a_crashed_primary_fails_over_to_the_sync_standby(cluster: Cluster) -> None:
    with psycopg.connect(cluster.owner_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE failover_probe (n int)")
        for n in range(200):  # each acknowledged on its own
            conn.execute("INSERT INTO failover_probe VALUES (%s)", (n,))
        old_port = conn.info.port
    patroni = PatroniPostgres(cluster.infra)
    [leader] = [m["name"] for m in patroni.cluster_members() if m["role"] == "leader"]
    [member] = [m for m in patroni.members if m.paths.name == leader]
    postmaster = member.postmaster_pid()
    assert postmaster is not None and member.paths.postgres_port == old_port

    os.kill(postmaster, signal.SIGKILL)

    def writes_again() -> bool:
        try:
            with psycopg.connect(cluster.owner_url, connect_timeout=3, autocommit=True) as c:
                c.execute("INSERT INTO failover_probe VALUES (-1)")
                return True
        except psycopg.Error:
            return False

    failover = _wait_for("a writable primary after the crash", writes_again, 60, interval=0.1)
    with psycopg.connect(cluster.owner_url) as conn:
        assert conn.info.port != old_port  # the standby, promoted
        assert conn.execute("SELECT count(*) FROM failover_probe").fetchone() == (201,)

    def pair_again() -> bool:
        roles = sorted(str(m.get("role")) for m in patroni.cluster_members())
        return roles == ["leader", "sync_standby"]

    rejoined = _wait_for("the old primary back as sync standby", pair_again, 90)
    cluster.say(
        f"primary postmaster SIGKILLed: writes through DATABASE_URL again after {failover:.1f} s "
        f"(no acknowledged row lost); old primary back as sync standby {rejoined:.1f} s later"
    )


def test_down_leaves_no_process(cluster: Cluster) -> None:
    settings = Settings(kafka_bootstrap_servers=None, database_url=None, infra=cluster.infra)
    patroni = PatroniPostgres(cluster.infra)
    ours = [s.pid for s in status(settings) if s.pid] + [
        pid for m in patroni.members if (pid := m.postmaster_pid())
    ]
    assert len(ours) == 3 + 2 + 1 + 2, ours  # brokers, Patroni, etcd, postmasters

    done = run_optimerge("infra", "down", timeout=120, **cluster.env)

    assert done.returncode == 0, done.stderr
    assert [pid for pid in ours if is_alive(pid)] == []
    assert cluster.status()[0] == 1
