"""`optimerge infra up|down|status|env`: local Kafka and PostgreSQL, or the servers configured."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial

import psycopg
from psycopg.conninfo import conninfo_to_dict

from config import Settings
from optimerge.infra._process import InfraError, Log, ServiceStatus, log_to_stderr
from optimerge.infra.kafka import LocalKafka
from optimerge.infra.postgres import LocalPostgres
from streams.admin import wait_for_kafka


@dataclass(frozen=True)
class Endpoints:
    kafka_bootstrap_servers: str
    database_url: str

    def export_lines(self) -> list[str]:
        """Lines for `eval "$(optimerge infra env)"`: values are shell-quoted."""
        return [
            f"export KAFKA_BOOTSTRAP_SERVERS={shlex.quote(self.kafka_bootstrap_servers)}",
            f"export DATABASE_URL={shlex.quote(self.database_url)}",
        ]


def describe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    try:
        info = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "(unparsable DATABASE_URL)"
    return f"{info.get('user', '?')}@{info.get('host', '?')}:{info.get('port', 5432)}/" + str(
        info.get("dbname", "?")
    )


def _check_kafka(bootstrap: str, log: Log) -> str:
    if not wait_for_kafka(bootstrap, timeout=15.0):
        raise InfraError(f"KAFKA_BOOTSTRAP_SERVERS={bootstrap} does not answer within 15 s")
    log(f"using Kafka at {bootstrap} (KAFKA_BOOTSTRAP_SERVERS)")
    return bootstrap


def _check_database(url: str, log: Log) -> str:
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        raise InfraError(f"DATABASE_URL ({describe_url(url)}) does not answer: {exc}") from exc
    log(f"using PostgreSQL at {describe_url(url)} (DATABASE_URL)")
    return url


def up(settings: Settings, log: Log = log_to_stderr, timeout: float = 90.0) -> Endpoints:
    """Start what is not configured externally (idempotent: running processes are reused)."""
    kafka: Callable[[], str] = (
        partial(_check_kafka, settings.kafka_bootstrap_servers, log)
        if settings.kafka_bootstrap_servers
        else partial(LocalKafka(settings.infra, log).start, timeout)
    )
    database: Callable[[], str] = (
        partial(_check_database, settings.database_url, log)
        if settings.database_url
        else partial(LocalPostgres(settings.infra, log).start, timeout)
    )
    # Side by side: the JVM's start dominates, PostgreSQL is ready long before.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="infra-up") as pool:
        futures = [pool.submit(kafka), pool.submit(database)]
    errors = [str(exc) for f in futures if (exc := f.exception()) is not None]
    if errors:
        raise InfraError("\n\n".join(errors))
    return Endpoints(futures[0].result(), futures[1].result())


def down(settings: Settings, log: Log = log_to_stderr) -> None:
    """Stop our local processes (never anything external); nothing running is fine."""
    stopped = [
        LocalKafka(settings.infra, log).stop(),
        LocalPostgres(settings.infra, log).stop(),
    ]
    if not any(stopped):
        log("nothing of ours was running")


def status(settings: Settings) -> list[ServiceStatus]:
    """Our local processes, whether or not KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL are set."""
    return [LocalKafka(settings.infra).status(), LocalPostgres(settings.infra).status()]


def kafka_bootstrap(settings: Settings) -> str:
    """KAFKA_BOOTSTRAP_SERVERS, or the address of the local broker that runs."""
    if settings.kafka_bootstrap_servers:
        return settings.kafka_bootstrap_servers
    kafka = LocalKafka(settings.infra)
    if kafka.pid() is None:
        raise InfraError(f"local Kafka is not running ({kafka.dir}): run `optimerge infra up`")
    return kafka.bootstrap


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the URL of the local PostgreSQL that runs."""
    if settings.database_url:
        return settings.database_url
    postgres = LocalPostgres(settings.infra)
    if postgres.pid() is None:
        raise InfraError(
            f"local PostgreSQL is not running ({postgres.dir}): run `optimerge infra up`"
        )
    return postgres.url()


def env(settings: Settings) -> Endpoints:
    """The endpoints of running infrastructure, rebuilt from settings and the state dir."""
    return Endpoints(kafka_bootstrap(settings), database_url(settings))
