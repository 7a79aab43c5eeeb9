"""`optimerge infra up|down|status|env`: local Kafka and PostgreSQL, or the servers configured.

Locally: one Kafka node or a cluster (`kafka_cluster.py`), one PostgreSQL or a Patroni pair
(`patroni.py`); which one is decided by what the state dir holds, else by the settings."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

from config import InfraSettings, KafkaEndpoint, Settings
from config.audit import STATE_KEY_FILE
from optimerge.infra._process import InfraError, Log, ServiceStatus, log_to_stderr
from optimerge.infra._roles import DatabaseUrls
from optimerge.infra.kafka_cluster import KafkaCluster
from optimerge.infra.kafka_health import cluster_report
from optimerge.infra.patroni import PatroniPostgres
from optimerge.infra.postgres import LocalPostgres
from optimerge.infra.principals import (
    ADMIN,
    APP,
    OPERATOR,
    WORKER,
    PrincipalSettings,
    console_env,
    hints,
    principal_settings,
)
from optimerge.infra.secrets import LocalSecrets
from streams.admin import wait_for_kafka
from streams.topics import Topics


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap_servers: str
    # The worker's role (docs/contract.md#database-roles).
    database_url: str
    # Of the local Kafka's topics; None when Kafka is external (settings.replication_factor).
    replication_factor: int | None = None
    # The app's and the schema owner's roles; None: DATABASE_URL's (one role for all).
    app_database_url: str | None = None
    migration_database_url: str | None = None
    # The audit key `infra up` made in the state dir; None when the settings name one.
    audit_key_file: Path | None = None
    # The local Kafka's state dir, where its secrets are; None when Kafka is external (its
    # security settings then come from the environment, as for any client).
    state_dir: Path | None = None

    @property
    def secrets(self) -> LocalSecrets | None:
        return None if self.state_dir is None else LocalSecrets(self.state_dir)

    def principal(self, name: str) -> PrincipalSettings | None:
        """A local principal's settings (None with an external Kafka)."""
        secrets = self.secrets
        return None if secrets is None else principal_settings(secrets, name)

    def endpoint(self, name: str) -> KafkaEndpoint:
        """The local Kafka as principal `name` (without credentials when it is external)."""
        local = self.principal(name)
        if local is None:
            return KafkaEndpoint(self.kafka_bootstrap_servers)
        return KafkaEndpoint(self.kafka_bootstrap_servers, local.kafka)

    def export_lines(self, principal: str = OPERATOR, topic_prefix: str = "") -> list[str]:
        """Lines for `eval "$(optimerge infra env)"`: values are shell-quoted; the local
        Kafka's credentials are file paths, never the passwords themselves."""
        lines = [
            f"export KAFKA_BOOTSTRAP_SERVERS={shlex.quote(self.kafka_bootstrap_servers)}",
            f"export DATABASE_URL={shlex.quote(self.database_url)}",
        ]
        # Topics that workers create themselves must be as durable as those of `infra up`.
        if self.replication_factor and self.replication_factor > 1:
            lines.append(f"export OPTIMERGE_REPLICATION_FACTOR={self.replication_factor}")
        lines += [f"export {k}={shlex.quote(v)}" for k, v in self.role_env().items()]
        local = self.principal(principal)
        if local is not None and self.secrets is not None:
            lines += [f"export {k}={shlex.quote(v)}" for k, v in local.env().items()]
            lines += hints(self.kafka_bootstrap_servers, self.secrets, Topics(topic_prefix))
        return lines

    def role_env(self) -> dict[str, str]:
        """The settings beside DATABASE_URL that processes of this system need."""
        env = {}
        if self.app_database_url:
            env["OPTIMERGE_APP_DATABASE_URL"] = self.app_database_url
        if self.migration_database_url:
            env["OPTIMERGE_MIGRATION_DATABASE_URL"] = self.migration_database_url
        if self.audit_key_file is not None:
            env["OPTIMERGE_AUDIT__KEY_FILE"] = str(self.audit_key_file)
        return env

    def process_env(self, process: str = WORKER) -> dict[str, str]:
        """What a process `optimerge run` starts is given: its own database role's URL only,
        its own Kafka principal (with its signing keys), the audit key. `worker`, `app` (its
        operator console acting as the operator) or `checkpointer` (the app's database role:
        it reads the trail and records its runs; docs/contract.md#database-roles)."""
        url = self.database_url if process == WORKER else self.app_database_url or self.database_url
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka_bootstrap_servers,
            "DATABASE_URL": url,
            "OPTIMERGE_APP_DATABASE_URL": url,
            # Blank, should the shell have them from `eval "$(optimerge infra env)"`.
            "OPTIMERGE_MIGRATION_DATABASE_URL": "",
        }
        if self.audit_key_file is not None:
            env["OPTIMERGE_AUDIT__KEY_FILE"] = str(self.audit_key_file)
        if self.replication_factor:  # the workers' own topics as durable as the cluster's
            env["OPTIMERGE_REPLICATION_FACTOR"] = str(self.replication_factor)
        local = self.principal(process)
        if local is not None:
            # Blank first, as the migration URL: a shell's `infra env` (the operator's key, say)
            # must not lend its identity to a process that signs nothing.
            env |= {"OPTIMERGE_SIGNING__KEY_FILE": "", "OPTIMERGE_KAFKA__SASL_PASSWORD": ""}
            env |= local.env()
        if process == APP and self.secrets is not None:
            env |= console_env(self.secrets)
        return env


def describe_url(url: str) -> str:
    """A database URL without its password, for messages (every host of a multi-host one)."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(unparsable DATABASE_URL)"
    hosts = str(info.get("host", "?")).split(",")
    ports = str(info.get("port", 5432)).split(",")
    if len(ports) == 1:
        ports *= len(hosts)
    where = ",".join(f"{h}:{p}" for h, p in zip(hosts, ports, strict=False))
    return f"{info.get('user', '?')}@{where}/{info.get('dbname', '?')}"


def local_database(
    infra: InfraSettings, log: Log = log_to_stderr
) -> LocalPostgres | PatroniPostgres:
    """The Patroni pair if the state dir has one (or, with none yet, if asked for one)."""
    patroni = PatroniPostgres(infra, log)
    if patroni.recorded:
        return patroni
    single = LocalPostgres(infra, log)
    if infra.postgres_standby and not single.initialised():
        return patroni
    return single


def start_local_database(infra: InfraSettings, log: Log, timeout: float) -> DatabaseUrls:
    database = local_database(infra, log)
    wanted = infra.postgres_standby
    if wanted is not None and wanted != isinstance(database, PatroniPostgres):
        have = "a primary with a standby" if wanted is False else "a single PostgreSQL"
        raise InfraError(
            f"the state dir {infra.state_dir} holds {have} (in {database.dir}), and its data "
            f"cannot move to {'a single server' if wanted is False else 'a Patroni pair'}. "
            f"Run `optimerge infra down` and delete {database.dir} (its data goes with it), "
            f"or use another OPTIMERGE_INFRA__STATE_DIR"
        )
    return database.start(timeout)


def _check_kafka(kafka: KafkaEndpoint, log: Log) -> str:
    if not wait_for_kafka(kafka, timeout=15.0):
        who = f" as {kafka.principal}" if kafka.principal else ""
        raise InfraError(
            f"KAFKA_BOOTSTRAP_SERVERS={kafka.bootstrap} does not answer{who} within 15 s "
            "(check OPTIMERGE_KAFKA__SECURITY_PROTOCOL and the SASL settings)"
        )
    log(f"using Kafka at {kafka.bootstrap} (KAFKA_BOOTSTRAP_SERVERS)")
    return kafka.bootstrap


def configured_urls(settings: Settings, worker: str) -> DatabaseUrls:
    """The roles' URLs an existing server is configured with (one role where only
    DATABASE_URL is set)."""
    return DatabaseUrls(
        worker,
        settings.app_database_url or worker,
        settings.migration_database_url or worker,
    )


def _check_database(settings: Settings, log: Log) -> DatabaseUrls:
    urls = configured_urls(settings, settings.database_url or "")
    for name, url in (
        ("DATABASE_URL", urls.worker),
        ("OPTIMERGE_APP_DATABASE_URL", urls.app),
        ("OPTIMERGE_MIGRATION_DATABASE_URL", urls.migration),
    ):
        try:
            with psycopg.connect(url, connect_timeout=10) as conn:
                conn.execute("SELECT 1")
        except psycopg.Error as exc:
            raise InfraError(f"{name} ({describe_url(url)}) does not answer: {exc}") from exc
    log(f"using PostgreSQL at {describe_url(urls.worker)} (DATABASE_URL)")
    return urls


def up(settings: Settings, log: Log = log_to_stderr, timeout: float = 90.0) -> Endpoints:
    """Start what is not configured externally (idempotent: running processes are reused)."""
    cluster = KafkaCluster(settings.infra, log)
    kafka: Callable[[], str] = (
        partial(_check_kafka, KafkaEndpoint(settings.kafka_bootstrap_servers, settings.kafka), log)
        if settings.kafka_bootstrap_servers
        else partial(cluster.start, timeout)
    )
    database: Callable[[], DatabaseUrls] = (
        partial(_check_database, settings, log)
        if settings.database_url
        else partial(start_local_database, settings.infra, log, timeout)
    )
    # Side by side: the JVM's start dominates, PostgreSQL is ready long before.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="infra-up") as pool:
        kafka_future, database_future = pool.submit(kafka), pool.submit(database)
    errors = [
        str(exc) for f in (kafka_future, database_future) if (exc := f.exception()) is not None
    ]
    if errors:
        raise InfraError("\n\n".join(errors))
    local = not settings.kafka_bootstrap_servers
    factor = cluster.replication_factor if local else None
    return _endpoints(settings, kafka_future.result(), database_future.result(), factor)


def _endpoints(
    settings: Settings, bootstrap: str, urls: DatabaseUrls, factor: int | None
) -> Endpoints:
    key_file = settings.infra.state_dir / STATE_KEY_FILE
    configured = settings.audit.key is not None or settings.audit.key_file is not None
    local = not settings.kafka_bootstrap_servers
    return Endpoints(
        bootstrap,
        urls.worker,
        factor,
        app_database_url=urls.app,
        migration_database_url=urls.migration,
        audit_key_file=None if configured or not key_file.exists() else key_file.resolve(),
        state_dir=settings.infra.state_dir if local else None,
    )


def down(settings: Settings, log: Log = log_to_stderr) -> None:
    """Stop our local processes (never anything external); nothing running is fine."""
    stopped = [
        KafkaCluster(settings.infra, log).stop(),
        PatroniPostgres(settings.infra, log).stop(),
        LocalPostgres(settings.infra, log).stop(),
    ]
    if not any(stopped):
        log("nothing of ours was running")


def status(settings: Settings) -> list[ServiceStatus]:
    """Our local processes, whether or not KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are set."""
    database = local_database(settings.infra)
    databases = database.status() if isinstance(database, PatroniPostgres) else [database.status()]
    return [*KafkaCluster(settings.infra).status(), *databases]


def report(settings: Settings) -> list[str]:
    """What a cluster or a Patroni pair say about themselves (quorum, partitions, roles)."""
    lines = []
    cluster = KafkaCluster(settings.infra)
    if cluster.size > 1 and cluster.running():
        lines += cluster_report(cluster)
    database = local_database(settings.infra)
    if isinstance(database, PatroniPostgres) and database.running():
        lines += database.report()
    return lines


def kafka_bootstrap(settings: Settings) -> str:
    """KAFKA_BOOTSTRAP_SERVERS, or the address of the local broker(s) that run."""
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    kafka = KafkaCluster(settings.infra)
    if not kafka.running():
        raise InfraError(f"local Kafka is not running ({kafka.dir}): run `optimerge infra up`")
    return kafka.bootstrap


def database_urls(settings: Settings) -> DatabaseUrls:
    """The configured URLs, or those of the local PostgreSQL (or Patroni pair) that runs."""
    if settings.database_url:
        return configured_urls(settings, settings.database_url)
    database = local_database(settings.infra)
    if not database.running():
        raise InfraError(
            f"local PostgreSQL is not running ({database.dir}): run `optimerge infra up`"
        )
    return database.urls()


def database_url(settings: Settings) -> str:
    """DATABASE_URL (the worker's role), or the local PostgreSQL's."""
    return database_urls(settings).worker


def env(settings: Settings) -> Endpoints:
    """The endpoints of running infrastructure, rebuilt from settings and the state dir."""
    local = not settings.kafka_bootstrap_servers
    factor = KafkaCluster(settings.infra).replication_factor if local else None
    return _endpoints(settings, kafka_bootstrap(settings), database_urls(settings), factor)


def admin_endpoint(settings: Settings, endpoints: Endpoints) -> KafkaEndpoint:
    """Who the infra talks to Kafka as: the local admin, or whoever the env says."""
    if endpoints.state_dir is None:
        return KafkaEndpoint(endpoints.kafka_bootstrap_servers, settings.kafka)
    return endpoints.endpoint(ADMIN)
