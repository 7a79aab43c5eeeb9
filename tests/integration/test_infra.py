"""The real broker and database the tests run against, and the `infra up|down|env` lifecycle."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import stat
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Message, Producer
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from config import InfraSettings, KafkaEndpoint, Settings
from optimerge.infra import InfraError, LocalKafka, LocalPostgres, down, env, status, up
from optimerge.infra._ports import free_ports
from optimerge.infra._process import is_alive
from optimerge.infra.secrets import LocalSecrets
from streams.acls import apply_grants, pipeline_grants, revoke_grants
from streams.admin import TopicError, delete_topics, ensure_topics
from streams.security import client_options
from streams.topics import Topics
from tests.fix_infra import make_state_dir, stop_abandoned_test_infra


def _consume(kafka: KafkaEndpoint, topic: str, count: int, timeout: float = 30) -> list[Message]:
    consumer = Consumer(
        {
            **client_options(kafka),
            "group.id": f"test-{uuid.uuid4().hex[:8]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    try:
        messages = []
        for _ in range(int(timeout * 10)):
            msg = consumer.poll(0.1)
            if msg is not None:
                assert msg.error() is None, msg.error()
                messages.append(msg)
            if len(messages) == count:
                return messages
        raise AssertionError(f"read {len(messages)} of {count} messages from {topic}")
    finally:
        consumer.close()


def test_keyed_messages_come_back_in_order_per_partition(
    kafka_admin: KafkaEndpoint, topics: Topics
) -> None:
    producer = Producer({**client_options(kafka_admin), "enable.idempotence": True, "acks": "all"})
    sent = [(f"patient-{i % 5}".encode(), f"{i}".encode()) for i in range(40)]
    for key, value in sent:
        producer.produce(
            topics.extraction_results.name, key=key, value=value, headers=[("h", b"1")]
        )
    assert producer.flush(30) == 0

    received = _consume(kafka_admin, topics.extraction_results.name, len(sent))

    values: dict[bytes | None, list[bytes | None]] = defaultdict(list)
    partitions: dict[bytes | None, set[int | None]] = defaultdict(set)
    for msg in received:
        values[msg.key()].append(msg.value())
        partitions[msg.key()].add(msg.partition())
        assert msg.headers() == [("h", b"1")]
    assert len(values) == 5
    for patient in values:
        assert values[patient] == [v for k, v in sent if k == patient]
        assert len(partitions[patient]) == 1


def test_a_5mb_payload_reaches_the_consumer(kafka_admin: KafkaEndpoint, topics: Topics) -> None:
    producer = Producer({**client_options(kafka_admin), "message.max.bytes": 8388608})
    payload = b"x" * (5 * 1024 * 1024)
    producer.produce(topics.extraction_results.name, key="p", value=payload)
    assert producer.flush(30) == 0

    [msg] = _consume(kafka_admin, topics.extraction_results.name, 1)

    assert msg.value() == payload


def test_topics_have_the_test_layout(kafka_admin: KafkaEndpoint, topics: Topics) -> None:
    admin = AdminClient(client_options(kafka_admin))
    metadata = admin.list_topics(timeout=10).topics
    assert all(len(metadata[name].partitions) == 3 for name in topics.all())
    resource = ConfigResource("topic", topics.dlq.name)
    config = admin.describe_configs([resource])[resource].result(10)
    assert config["max.message.bytes"].value == "8388608"
    # The broker stamps review actions (pipeline/signatures.py checks their age against it).
    resource = ConfigResource("topic", topics.review_actions.name)
    config = admin.describe_configs([resource])[resource].result(10)
    assert config["message.timestamp.type"].value == "LogAppendTime"


def test_ensure_topics_is_idempotent_and_refuses_other_partition_counts(
    kafka_admin: KafkaEndpoint, topics: Topics
) -> None:
    assert ensure_topics(kafka_admin, topics, partitions=3) == []

    with pytest.raises(TopicError, match=r"must have 4 partitions.*extraction\.results has 3"):
        ensure_topics(kafka_admin, topics, partitions=4)


def test_the_worker_leaves_audit_checkpoints_to_the_checkpointer(
    kafka_admin: KafkaEndpoint, kafka_principals: LocalSecrets
) -> None:
    """The worker's principal may not even see audit.checkpoints: at its start it ensures every
    other topic; the checkpointer creates its own, compacted (docs/contract.md#topics)."""
    topics = Topics(prefix=f"t-{uuid.uuid4().hex[:8]}.")
    checkpoints = topics.audit_checkpoints.name
    others = [name for name in topics.all() if name != checkpoints]
    grants = pipeline_grants(topics, f"{topics.prefix}{Settings().app_id}")
    apply_grants(kafka_admin, grants)
    try:
        assert sorted(ensure_topics(kafka_admin, topics, partitions=3, names=others)) == sorted(
            others
        )
        worker = KafkaEndpoint(kafka_admin.bootstrap, kafka_principals.kafka_client("worker"))
        assert ensure_topics(worker, topics, partitions=3, names=others) == []
        with pytest.raises(TopicError, match=r"audit\.checkpoints"):
            ensure_topics(worker, topics, partitions=3)
        checkpointer = KafkaEndpoint(
            kafka_admin.bootstrap, kafka_principals.kafka_client("checkpointer")
        )
        assert ensure_topics(checkpointer, topics, partitions=3, names=[checkpoints]) == [
            checkpoints
        ]
        admin = AdminClient(client_options(kafka_admin))
        resource = ConfigResource("topic", checkpoints)
        config = admin.describe_configs([resource])[resource].result(10)
        assert config["cleanup.policy"].value == "compact"
    finally:
        delete_topics(kafka_admin, topics.all())
        revoke_grants(kafka_admin, grants)


@pytest.mark.parametrize("run", [1, 2])
def test_each_test_gets_its_own_migrated_database(database_url: str, run: int) -> None:
    with psycopg.connect(database_url) as conn:
        # Both runs create the same table: the second would fail if they shared a database.
        conn.execute("CREATE TABLE isolation_probe (run int)")
        conn.execute("INSERT INTO isolation_probe VALUES (%s)", (run,))
        assert conn.execute("SELECT count(*) FROM isolation_probe").fetchone() == (1,)
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
        assert tables is not None and tables[0] > 1, "the template was not migrated"


def test_the_server_role_may_create_databases(database_server_url: str) -> None:
    name = f"probe_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(database_server_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
        conn.execute(f"DROP DATABASE {name}")


def test_settings_point_at_this_tests_topics_and_database(
    settings: Settings, topics: Topics, database_url: str, kafka_bootstrap: str
) -> None:
    assert settings.kafka_bootstrap_servers == kafka_bootstrap
    # Each role its own URL of the same database: the owner is the fixture's.
    assert settings.migration_url == database_url
    assert settings.database_url.startswith("postgresql://optimerge_worker:")
    assert settings.app_url.startswith("postgresql://optimerge_app:")
    assert settings.topic_prefix == topics.prefix
    assert settings.partitions == 3
    assert settings.infra.state_dir != InfraSettings().state_dir  # never the developer's own


# Lifecycle: its own instance, since `down` must really stop it.


@pytest.fixture
def own_infra() -> Iterator[Settings]:
    state_dir = make_state_dir("optimerge-test-lifecycle-")
    kafka_port, controller_port, postgres_port = free_ports(3)
    infra = InfraSettings(
        state_dir=state_dir,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        postgres_port=postgres_port,
    )
    settings = Settings(kafka_bootstrap_servers=None, database_url=None, infra=infra)
    try:
        yield settings
    finally:
        down(settings, log=lambda _: None)
        shutil.rmtree(state_dir, ignore_errors=True)


def _process_tree(pid: int) -> set[int]:
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:  # a backend whose client just left
        children = []
    return {pid}.union(*(_process_tree(int(child)) for child in children))


@pytest.mark.integration
@pytest.mark.slow
def test_up_is_idempotent_and_down_leaves_no_process(own_infra: Settings) -> None:
    logs: list[str] = []
    endpoints = up(own_infra, log=logs.append)
    assert any(line.startswith("Kafka ready in") for line in logs), logs
    pids = {s.name: s.pid for s in status(own_infra)}
    assert all(pids.values()), pids

    logs.clear()
    assert up(own_infra, log=logs.append) == endpoints
    assert {s.name: s.pid for s in status(own_infra)} == pids
    assert any("already running" in line for line in logs), logs

    assert env(own_infra) == endpoints
    script = "\n".join(
        [*env(own_infra).export_lines(), 'echo "$KAFKA_BOOTSTRAP_SERVERS $DATABASE_URL"']
    )
    out = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.split() == [endpoints.kafka_bootstrap_servers, endpoints.database_url]
    # The operator's client settings: file paths, never a password; kcat's flags as comments.
    text = "\n".join(env(own_infra).export_lines())
    secrets = LocalSecrets(own_infra.infra.state_dir)
    assert "export OPTIMERGE_KAFKA__SASL_USERNAME=operator" in text
    assert "OPTIMERGE_KAFKA__SASL_PASSWORD_FILE=" in text and "OPTIMERGE_SIGNING__KEY_FILE=" in text
    assert secrets.password("operator") not in text and secrets.password("admin") not in text
    assert "# kcat as the extractor: kcat -b" in text
    assert stat.S_IMODE(secrets.dir.stat().st_mode) == 0o700
    files = [f for f in secrets.dir.rglob("*") if f.is_file()]
    assert len(files) >= 9 and all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    # One role per URL, each with its own password (docs/contract.md#database-roles).
    for url, role in (
        (endpoints.database_url, "optimerge_worker"),
        (endpoints.app_database_url, "optimerge_app"),
        (endpoints.migration_database_url, "optimerge"),
    ):
        assert url is not None
        with psycopg.connect(url) as conn:
            assert conn.execute("SELECT current_user").fetchone() == (role,)
    _assert_private(own_infra.infra.state_dir)

    # The postmaster's children (checkpointer, walwriter, ...) must go too.
    ours = _process_tree(pids["kafka"] or 0) | _process_tree(pids["postgres"] or 0)
    down(own_infra, log=logs.append)

    assert [pid for pid in ours if is_alive(pid)] == []
    assert not any(s.running for s in status(own_infra))
    with pytest.raises(InfraError, match="not running"):
        env(own_infra)
    logs.clear()
    down(own_infra, log=logs.append)
    assert logs == ["nothing of ours was running"]


def _assert_private(state_dir: Path) -> None:
    """Nobody but its owner gets into the state dir (PostgreSQL's OS user, when we are root,
    may only pass through it); logs, data and secrets in it are 0600."""
    mode = state_dir.stat().st_mode & 0o777
    assert mode in (0o700, 0o710), oct(mode)
    exposed = [
        f"{path.relative_to(state_dir)} {oct(path.stat().st_mode & 0o777)}"
        for path in state_dir.rglob("*")
        if path.is_file()
        and (path.suffix in {".log", ".index", ".timeindex"} or "password" in path.name)
        and path.stat().st_mode & 0o077
    ]
    assert exposed == []


@pytest.mark.parametrize("service", ["kafka", "postgres"])
def test_a_port_taken_by_someone_else_is_named(tmp_path: Path, service: str) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        infra = InfraSettings(
            state_dir=tmp_path, kafka_port=port, postgres_port=port, kafka_controller_port=port
        )
        local = LocalKafka(infra) if service == "kafka" else LocalPostgres(infra)
        setting = "KAFKA_PORT" if service == "kafka" else "POSTGRES_PORT"

        with pytest.raises(InfraError, match=rf"port {port} .* OPTIMERGE_INFRA__{setting}=") as exc:
            local.start()
        assert "pid " in str(exc.value)  # who holds it, for the person on call


@pytest.mark.integration
def test_a_broker_that_dies_on_start_shows_its_output(tmp_path: Path) -> None:
    kafka_port, controller_port = free_ports(2)
    infra = InfraSettings(
        state_dir=tmp_path,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        kafka_heap="1k",
    )

    with pytest.raises(InfraError, match=r"(?s)exited.*JVM output.*heap"):
        LocalKafka(infra, log=lambda _: None).start(timeout=60)
    assert LocalKafka(infra).status().running is False


@pytest.mark.integration
def test_infra_of_a_killed_session_is_stopped_by_the_next() -> None:
    # A prefix of its own: another test session on this machine reaps "optimerge-test-*" dirs
    # with a dead owner, and must not reap this one while the test still starts it.
    prefix = f"optimerge-reaper-{os.getpid()}-"
    state_dir = make_state_dir(prefix)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (state_dir / "owner.pid").write_text(f"{dead.pid}\n")  # as if that session was SIGKILLed
    [port] = free_ports(1)
    postgres = LocalPostgres(InfraSettings(state_dir=state_dir, postgres_port=port), log=print)
    postgres.start()
    pid = postgres.pid()
    assert pid is not None

    stop_abandoned_test_infra(prefix)

    assert not is_alive(pid)
    assert not state_dir.exists()


@pytest.mark.integration
def test_postgres_starts_again_right_after_a_sigkill_of_the_postmaster() -> None:
    """Issue 12: the first start after SIGKILL failed on the stale postmaster.pid."""
    state_dir = make_state_dir()
    [port] = free_ports(1)
    postgres = LocalPostgres(InfraSettings(state_dir=state_dir, postgres_port=port), log=print)
    try:
        postgres.start()
        pid = postgres.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while postgres.pid() is not None:  # the signal lands asynchronously
            time.sleep(0.01)
        assert (postgres.data_dir / "postmaster.pid").exists()
        postgres.start()  # at once: its backends may still be exiting
        assert postgres.pid() not in (None, pid)
    finally:
        postgres.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.mark.integration
def test_kafka_starts_again_right_after_a_sigkill_of_the_broker() -> None:
    """A SIGKILLed JVM looks gone (no command line, main thread a zombie) while its other
    threads still hold its ports: the next start waits for it rather than call them taken."""
    state_dir = make_state_dir()
    kafka_port, controller_port = free_ports(2)
    infra = InfraSettings(
        state_dir=state_dir, kafka_port=kafka_port, kafka_controller_port=controller_port
    )
    broker = LocalKafka(infra, log=print)
    try:
        broker.start()
        pid = broker.pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        while broker.pid() is not None:
            time.sleep(0.001)
        broker.start()
        assert broker.pid() not in (None, pid)
    finally:
        broker.stop()
        shutil.rmtree(state_dir, ignore_errors=True)
