"""Fixture plugin: a real Kafka broker and a real PostgreSQL for the tests, own topics and database
per test. Where they come from, in order: KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL when set (Kafka
then as the admin principal the OPTIMERGE_KAFKA__* variables name); else, for PostgreSQL,
testcontainers when a Docker engine answers; else local processes started once per session (own
state dir, free ports, so a developer's `optimerge infra up` is never touched).

Kafka always authenticates (SASL/SCRAM) and authorises (ACLs): the session creates the
principals (extractor, app, worker, operator, checkpointer) once, and each test's topics get
their ACLs under the test's own prefix. `settings` acts as the operator; `as_principal("app")`
gives another. PostgreSQL has the worker's and the app's roles beside the owner (made once a
session), and `settings` names each role's URL (docs/contract.md#database-roles)."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator
from concurrent import futures
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from config import InfraSettings, KafkaEndpoint, ResolvedSettings, Settings, load_settings
from optimerge.infra import InfraError, LocalKafka, LocalPostgres
from optimerge.infra._ports import free_ports
from optimerge.infra._process import Log, is_alive
from optimerge.infra.local import describe_url, down
from optimerge.infra.principals import SIGNER_OF
from optimerge.infra.secrets import LocalSecrets
from storage.databases import create_database, drop_database
from storage.migrate import apply_migrations
from storage.roles import APP_ROLE, WORKER_ROLE
from streams.acls import (
    OPERATOR,
    apply_grants,
    pipeline_grants,
    reader_grants,
    revoke_grants,
    upsert_scram_users,
)
from streams.admin import delete_topics, ensure_topics, wait_for_kafka
from streams.topics import Topics

INFRA_FIXTURES = frozenset(
    {
        "kafka_bootstrap",
        "kafka_admin",
        "kafka_principals",
        "database_server_url",
        "database_roles",
        "worker_database_url",
        "topics",
        "database_url",
        "settings",
    }
)
TEST_PARTITIONS = 3
# Every process of the session (workers, the CLI, the app) MACs and verifies with this key.
TEST_AUDIT_KEY = "optimerge-test-audit-key-" + "k" * 32


def pytest_configure(config: pytest.Config) -> None:
    os.environ["OPTIMERGE_AUDIT__KEY"] = TEST_AUDIT_KEY


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INFRA_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)


def as_role(url: str, role: str, password: str) -> str:
    """`url` logging in as `role` instead."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{role}:{quote(password, safe='')}@{host}"))


def progress_log(config: pytest.Config) -> Log:
    capture = config.pluginmanager.getplugin("capturemanager")

    def log(message: str) -> None:
        # Starting the infrastructure can take a while: say so on the terminal, uncaptured.
        with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
            print(f"\n[test infra] {message}", end="", file=sys.stderr, flush=True)

    return log


@pytest.fixture(scope="session")
def _docker_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, timeout=5, check=False)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0


def make_state_dir(prefix: str = "optimerge-test-") -> Path:
    """A state dir for test infrastructure, marked with this session's pid."""
    # Under /tmp and 0700; when PostgreSQL runs as another OS user (we are root), its start
    # lets that user's group traverse it (0710), nothing more (optimerge/infra/_osuser.py).
    state_dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    (state_dir / "owner.pid").write_text(f"{os.getpid()}\n")
    return state_dir


def stop_abandoned_test_infra(prefix: str = "optimerge-test-") -> None:
    """Stop and remove the infrastructure of test sessions that died without their teardown
    (SIGKILL, a crash): its processes run in their own sessions and would outlive them."""
    for state_dir in Path("/tmp").glob(f"{prefix}*"):
        try:
            owner = int((state_dir / "owner.pid").read_text())
        except (OSError, ValueError):
            continue
        if is_alive(owner):
            continue
        # Whatever it ran: one node or a cluster, one PostgreSQL or a Patroni pair.
        down(Settings(infra=InfraSettings(state_dir=state_dir)), log=lambda _: None)
        shutil.rmtree(state_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def _local_infra() -> Iterator[InfraSettings]:
    stop_abandoned_test_infra()
    state_dir = make_state_dir()
    kafka_port, controller_port, postgres_port = free_ports(3)
    yield InfraSettings(
        state_dir=state_dir,
        kafka_port=kafka_port,
        kafka_controller_port=controller_port,
        postgres_port=postgres_port,
    )
    shutil.rmtree(state_dir, ignore_errors=True)


class _LocalServices:
    """Local Kafka and PostgreSQL started side by side on first use (the JVM boots while initdb
    runs); each fixture waits only for the one it needs. Progress is queued by the starting
    threads and printed from the main thread, where suspending pytest's capture is safe."""

    def __init__(self, config: pytest.Config, infra: InfraSettings) -> None:
        self._say = progress_log(config)
        self._messages: queue.SimpleQueue[str] = queue.SimpleQueue()
        self.services: dict[str, LocalKafka | LocalPostgres] = {}
        if not os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
            self.services["kafka"] = LocalKafka(infra, log=self._messages.put)
        if not os.environ.get("DATABASE_URL"):
            self.services["postgres"] = LocalPostgres(infra, log=self._messages.put)
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="test-infra")
        self._started = {
            name: self._pool.submit(self._start, svc) for name, svc in self.services.items()
        }

    @staticmethod
    def _start(service: LocalKafka | LocalPostgres) -> str:
        # PostgreSQL's: the owner's URL, a role that may CREATE DATABASE.
        return service.start().migration if isinstance(service, LocalPostgres) else service.start()

    def _flush(self) -> None:
        while not self._messages.empty():
            self._say(self._messages.get_nowait())

    def wait(self, name: str) -> str:
        future = self._started[name]
        # A first run resolves jars for a while: show progress as it comes.
        while not futures.wait([future], timeout=0.2).done:
            self._flush()
        self._flush()
        return future.result()

    def stop(self) -> None:
        self._pool.shutdown(wait=True)  # a start still under way must end before we stop it
        for service in self.services.values():
            service.stop()
        self._flush()


@pytest.fixture(scope="session")
def _local_services(
    request: pytest.FixtureRequest, _local_infra: InfraSettings
) -> Iterator[_LocalServices]:
    services = _LocalServices(request.config, _local_infra)
    try:
        yield services
    finally:
        services.stop()


@pytest.fixture(scope="session")
def kafka_admin(request: pytest.FixtureRequest) -> KafkaEndpoint:
    """Kafka as its admin (super user): what creates topics, users and ACLs for the tests."""
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        admin = KafkaEndpoint(bootstrap, load_settings().kafka)
        if not wait_for_kafka(admin, timeout=15):
            raise InfraError(
                f"KAFKA_BOOTSTRAP_SERVERS={bootstrap} does not answer within 15 s as the admin "
                "that OPTIMERGE_KAFKA__* names (the tests create users and ACLs with it)"
            )
        return admin
    request.getfixturevalue("_local_services").wait("kafka")
    kafka = request.getfixturevalue("_local_services").services["kafka"]
    assert isinstance(kafka, LocalKafka)
    return kafka.admin_endpoint


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_admin: KafkaEndpoint) -> str:
    return kafka_admin.bootstrap


@pytest.fixture(scope="session")
def test_secrets(request: pytest.FixtureRequest) -> LocalSecrets:
    """The session's principals' passwords and signing keys (files in its state dir, 0600)."""
    infra: InfraSettings = request.getfixturevalue("_local_infra")
    return LocalSecrets(infra.state_dir)


@pytest.fixture(scope="session")
def kafka_principals(kafka_admin: KafkaEndpoint, test_secrets: LocalSecrets) -> LocalSecrets:
    """extractor, app, worker, operator and checkpointer exist (SCRAM), with their partition
    readers' ACLs."""
    upsert_scram_users(kafka_admin, test_secrets.passwords())
    apply_grants(kafka_admin, reader_grants())
    return test_secrets


@pytest.fixture(scope="session")
def database_server_url(request: pytest.FixtureRequest, _docker_available: bool) -> Iterator[str]:
    """URL of a role that may CREATE DATABASE."""
    if url := os.environ.get("DATABASE_URL"):
        try:
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise InfraError(f"DATABASE_URL ({describe_url(url)}) does not answer: {exc}") from exc
        yield url
    elif _docker_available:
        from testcontainers.community.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver=None) as container:
            yield container.get_connection_url()
    else:
        yield request.getfixturevalue("_local_services").wait("postgres")


def _local_database_in_use(docker: bool) -> bool:
    return not os.environ.get("DATABASE_URL") and not docker


@pytest.fixture(scope="session")
def database_roles(
    request: pytest.FixtureRequest, database_server_url: str, _docker_available: bool
) -> dict[str, str]:
    """Password of the worker and the app roles. Roles are cluster-wide: made once a session
    (the local server has them from its start; elsewhere the server role must be allowed to
    create roles)."""
    if _local_database_in_use(_docker_available):
        postgres = request.getfixturevalue("_local_services").services["postgres"]
        assert isinstance(postgres, LocalPostgres)
        return {role: postgres.roles.password(role) for role in (WORKER_ROLE, APP_ROLE)}
    passwords = {role: uuid.uuid4().hex for role in (WORKER_ROLE, APP_ROLE)}
    try:
        with psycopg.connect(database_server_url, autocommit=True) as conn:
            for role, password in passwords.items():
                exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
                verb = "ALTER" if exists.fetchone() else "CREATE"
                conn.execute(
                    sql.SQL(verb + " ROLE {} LOGIN PASSWORD {}").format(
                        sql.Identifier(role), sql.Literal(password)
                    )
                )
    except psycopg.errors.InsufficientPrivilege as exc:
        raise InfraError(
            f"the tests run the worker and the app as roles {WORKER_ROLE} and {APP_ROLE}: "
            f"{describe_url(database_server_url)} may not create them (give it CREATEROLE)"
        ) from exc
    return passwords


@pytest.fixture(scope="session")
def _template_database(database_server_url: str, database_roles: dict[str, str]) -> Iterator[str]:
    """A migrated database that every test database is copied from: no migrations per test."""
    name = f"optimerge_template_{uuid.uuid4().hex[:8]}"
    apply_migrations(create_database(database_server_url, name))
    yield name
    drop_database(database_server_url, name)


@pytest.fixture
def database_url(database_server_url: str, _template_database: str) -> Iterator[str]:
    """A fresh, migrated database of this test's own, dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield create_database(database_server_url, name, template=_template_database)
    drop_database(database_server_url, name)


@pytest.fixture
def worker_database_url(database_url: str, database_roles: dict[str, str]) -> str:
    """This test's database as the worker's role (what an in-process worker connects as)."""
    return as_role(database_url, WORKER_ROLE, database_roles[WORKER_ROLE])


@pytest.fixture
def topics(kafka_admin: KafkaEndpoint, kafka_principals: LocalSecrets) -> Iterator[Topics]:
    """The registry's topics under a prefix of this test's own, 3 partitions each, with the
    ACLs of every principal on them; deleted (topics and ACLs) afterwards."""
    names = Topics(prefix=f"t-{uuid.uuid4().hex[:8]}.")
    grants = pipeline_grants(names, f"{names.prefix}{Settings().app_id}")
    ensure_topics(kafka_admin, names, partitions=TEST_PARTITIONS)
    apply_grants(kafka_admin, grants)
    yield names
    delete_topics(kafka_admin, names.all())
    revoke_grants(kafka_admin, grants)


def principal_settings(
    settings: ResolvedSettings, secrets: LocalSecrets, principal: str
) -> ResolvedSettings:
    """`settings` as another Kafka principal, with that principal's signing key (if any)."""
    return settings.with_overrides(
        kafka=secrets.kafka_client(principal), signing=secrets.signing(SIGNER_OF.get(principal))
    )


@pytest.fixture
def settings(
    request: pytest.FixtureRequest,
    kafka_bootstrap: str,
    database_url: str,
    database_roles: dict[str, str],
    topics: Topics,
    kafka_principals: LocalSecrets,
) -> ResolvedSettings:
    """The test's own topics and database. On Kafka, as the operator (who may read every topic);
    on PostgreSQL, each role's own URL, as a deployment has them: the worker's (DATABASE_URL),
    the app's and the owner's (`database_url`, which tests use to set up and look)."""
    base = Settings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=as_role(database_url, WORKER_ROLE, database_roles[WORKER_ROLE]),
        app_database_url=as_role(database_url, APP_ROLE, database_roles[APP_ROLE]),
        migration_database_url=database_url,
        topic_prefix=topics.prefix,
        partitions=TEST_PARTITIONS,
        # Never the developer's own .state: a test calling `down(settings)` must not stop it.
        infra=request.getfixturevalue("_local_infra"),
    ).resolved()
    return principal_settings(base, kafka_principals, OPERATOR)


@pytest.fixture
def as_principal(
    settings: ResolvedSettings, kafka_principals: LocalSecrets
) -> Callable[[str], ResolvedSettings]:
    """as_principal("app"): the test's settings as that principal."""
    return lambda principal: principal_settings(settings, kafka_principals, principal)
