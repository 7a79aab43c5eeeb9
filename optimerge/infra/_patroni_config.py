"""The Patroni configuration of one member (written as JSON, which YAML parsers read as is)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from config import InfraSettings

SCOPE = "optimerge"
REPLICATION_USER = "replicator"
# Leader key TTL and loop: a dead node's lock expires after 15 s; a crashed postmaster is seen
# within a 2 s loop. Patroni requires loop_wait + 2 * retry_timeout <= ttl.
TTL_SECONDS = 15
LOOP_WAIT_SECONDS = 2
RETRY_TIMEOUT_SECONDS = 5


# A client gone silent (a host down, a network cut) is dropped within seconds, and with it its
# transaction and row locks: keepalives while idle, and no data left unacknowledged for more
# than 10 s (without it, a backend ending an abandoned transaction waits to send its FATAL
# message for as long as TCP retries, minutes).
SERVER_TCP = {
    "tcp_keepalives_idle": 5,
    "tcp_keepalives_interval": 2,
    "tcp_keepalives_count": 3,
    "tcp_user_timeout": 10000,
}


@dataclass(frozen=True)
class MemberPaths:
    name: str
    dir: Path
    postgres_port: int
    rest_port: int
    # Where its PostgreSQL listens (InfraSettings.listen_host); the REST API stays on 127.0.0.1.
    host: str = "127.0.0.1"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"


@dataclass(frozen=True)
class Passwords:
    superuser: str
    replication: str


def render_member_config(
    infra: InfraSettings, member: MemberPaths, etcd_port: int, bindir: Path, passwords: Passwords
) -> dict[str, Any]:
    host = "127.0.0.1"
    clients = [f"{member.host}/32"]
    if infra.client_network is not None:
        clients.append(str(infra.client_network))
    return {
        "scope": SCOPE,
        "namespace": "/optimerge/",
        "name": member.name,
        "restapi": {
            "listen": f"{host}:{member.rest_port}",
            "connect_address": f"{host}:{member.rest_port}",
        },
        # Patroni's etcd3 client speaks etcd's v3 JSON gateway: no --enable-v2 needed.
        "etcd3": {"hosts": [f"{host}:{etcd_port}"]},
        "bootstrap": {
            "dcs": {
                "ttl": TTL_SECONDS,
                "loop_wait": LOOP_WAIT_SECONDS,
                "retry_timeout": RETRY_TIMEOUT_SECONDS,
                "maximum_lag_on_failover": 1048576,
                # A crashed primary fails over at once rather than restarting in place: the
                # sync standby has every acknowledged commit, so nothing is lost by it.
                "primary_start_timeout": 0,
                # Commits wait for the standby; only a node that was synchronous is promoted.
                "synchronous_mode": True,
                "synchronous_mode_strict": infra.postgres_synchronous_strict,
                # One etcd member: if it is away, the primary stays writable while both nodes
                # still see each other, instead of demoting itself.
                "failsafe_mode": True,
                "postgresql": {
                    "use_pg_rewind": True,
                    "use_slots": True,
                    "parameters": {
                        "wal_level": "replica",
                        "hot_standby": "on",
                        "wal_log_hints": "on",
                        "max_wal_senders": 10,
                        "max_replication_slots": 10,
                        "max_connections": 200,
                        "password_encryption": "scram-sha-256",
                    },
                },
            },
            "initdb": [{"encoding": "UTF8"}, "no-locale", {"auth": "scram-sha-256"}],
        },
        "postgresql": {
            "listen": f"{member.host}:{member.postgres_port}",
            "connect_address": f"{member.host}:{member.postgres_port}",
            "data_dir": str(member.data_dir),
            "bin_dir": str(bindir),
            "pgpass": str(member.dir / "pgpass"),
            "authentication": {
                "superuser": {"username": "postgres", "password": passwords.superuser},
                "replication": {"username": REPLICATION_USER, "password": passwords.replication},
            },
            "parameters": {
                **SERVER_TCP,
                # TCP only, as for the single server: no socket in /var/run/postgresql.
                "unix_socket_directories": "",
                "logging_collector": "on",
                "log_directory": str(member.dir / "log"),
                "log_filename": "postgresql.log",
                # No data in the server log (see optimerge/infra/postgres.py render_conf).
                "log_min_messages": "log",
                "log_min_error_statement": "panic",
                "log_error_verbosity": "terse",
            },
            "pg_hba": [
                *(f"host all all {network} scram-sha-256" for network in clients),
                f"host replication {REPLICATION_USER} {member.host}/32 scram-sha-256",
            ],
        },
    }
