"""Three Kafka brokers (replication factor 3, min.insync.replicas 2) and a Patroni primary with a
synchronous standby, of the fault suite's own, started and stopped through optimerge/infra as
`infra up --brokers 3 --postgres-standby` does. They listen on the host end of a veth into a
network namespace (tests/faults/netns.py), so that a worker inside it can be cut off.

It is the suite's Infrastructure (tests/faults/driver.py): `kill_kafka` SIGKILLs the broker
that leads the most of the suite's partitions, `kill_postgres` the primary's postmaster (Patroni
promotes the standby); their `restart_*` wait for the cluster to be whole again."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

from config import InfraSettings, KafkaEndpoint, ResolvedSettings, Settings
from domain.signing import SigningKey
from optimerge.infra import down, up
from optimerge.infra._patroni_member import PatroniMember
from optimerge.infra._ports import free_ports, port_in_use
from optimerge.infra.kafka import LocalKafka
from optimerge.infra.kafka_cluster import KafkaCluster
from optimerge.infra.kafka_health import partition_health
from optimerge.infra.patroni import PatroniPostgres
from optimerge.infra.secrets import LocalSecrets
from schemas import ActorKind
from storage.databases import create_database, with_database
from storage.migrate import apply_migrations
from streams.acls import apply_grants, pipeline_grants, reader_grants, upsert_scram_users
from streams.admin import ensure_topics, partition_leaders
from streams.topics import Topics
from tests.faults.netns import NetworkNamespace
from tests.faults.processes import children

BROKERS = 3
# 6 Kafka (client + controller per node), 2 PostgreSQL, 2 Patroni REST, 2 etcd.
PORTS = 12


def _port_block(host: str) -> int:
    """A base port with PORTS free ports after it, on 127.0.0.1 (controllers, Patroni's REST
    APIs, etcd) and on `host` (brokers, PostgreSQL) alike."""
    for base in free_ports(50):
        if all(not port_in_use(p) and not port_in_use(p, host) for p in range(base, base + PORTS)):
            return base
    raise RuntimeError(f"no {PORTS} consecutive free ports on 127.0.0.1 and {host}")


@dataclass
class BrokerKill:
    node_id: int
    led: int
    of: int
    coordinator: bool


class ClusterFaultInfra:
    def __init__(self, state_dir: Path, netns: NetworkNamespace, log: Any = print) -> None:
        host = str(netns.host_address)
        base = _port_block(host)
        self.infra = InfraSettings(
            state_dir=state_dir,
            kafka_port=base,
            kafka_controller_port=base + 1,
            postgres_port=base + 6,
            patroni_port=base + 8,
            etcd_port=base + 10,
            kafka_brokers=BROKERS,
            postgres_standby=True,
            listen_host=netns.host_address,
            client_network=netns.network,
        )
        self.netns = netns
        self.log = log
        self.bootstrap = ""
        # The servers' URLs per database role (docs/contract.md#database-roles).
        self.database_url = ""  # the worker's
        self.app_url = ""
        self.owner_url = ""
        self._killed_broker: int | None = None
        self._killed_primary: str | None = None
        self.last_broker_kill: BrokerKill | None = None

    def _settings(self) -> Settings:
        # Local servers only, whatever the session's environment points at.
        return Settings(kafka_bootstrap_servers=None, database_url=None, infra=self.infra)

    def start(self) -> None:
        endpoints = up(self._settings(), log=self.log, timeout=120)
        self.bootstrap, self.database_url = (
            endpoints.kafka_bootstrap_servers,
            endpoints.database_url,
        )
        self.app_url = endpoints.app_database_url or endpoints.database_url
        self.owner_url = endpoints.migration_database_url or endpoints.database_url

    @property
    def admin(self) -> KafkaEndpoint:
        """The brokers authenticate every client: the suite's own act as their admin."""
        return KafkaEndpoint(self.bootstrap, LocalSecrets(self.infra.state_dir).admin())

    @property
    def signer(self) -> SigningKey:
        """The app's key in the cluster's state dir: the feed signs review actions with it."""
        path = LocalSecrets(self.infra.state_dir).signing_key_file(ActorKind.REVIEWER)
        return SigningKey.from_pem(path.read_bytes())

    def settings(self, prefix: str, partitions: int) -> ResolvedSettings:
        """Topics under `prefix` with every principal's ACLs on them, and a migrated database
        of the caller's own; as the admin (workers started from them run as the worker)."""
        topics = Topics(prefix)
        secrets = LocalSecrets(self.infra.state_dir)
        ensure_topics(self.admin, topics, partitions=partitions, replication_factor=3)
        # `up` starts the brokers only (the admin is baked in at format); `infra up` would
        # create the principals: here the suite does, and grants them its prefix.
        upsert_scram_users(self.admin, secrets.passwords())
        apply_grants(
            self.admin,
            [*pipeline_grants(topics, f"{prefix}{Settings().app_id}"), *reader_grants()],
        )
        name = f"cfault_{uuid.uuid4().hex[:10]}"
        owner_url = create_database(self.owner_url, name)
        apply_migrations(owner_url)
        # Each role its own, as deployed: the workers append to the trail, never alter it.
        return Settings(
            kafka_bootstrap_servers=self.bootstrap,
            database_url=with_database(self.database_url, name),
            app_database_url=with_database(self.app_url, name),
            migration_database_url=owner_url,
            topic_prefix=prefix,
            partitions=partitions,
            replication_factor=3,
            infra=self.infra,
            kafka=secrets.admin(),
            signing=secrets.signing(None),
        ).resolved()

    def stop(self) -> None:
        """SIGKILL everything (its data goes anyway: no clean shutdown to wait for), Patroni
        first so that it restarts nothing; then `down` for anything left."""
        patroni = self.patroni()
        pids = [m.pid() for m in patroni.members]
        for member in patroni.members:
            postmaster = member.postmaster_pid()
            pids += [postmaster, *children(postmaster)] if postmaster else []
        pids += [patroni.etcd.pid(), *(node.pid() for node in self.brokers().values())]
        for pid in pids:
            if pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        down(self._settings(), log=lambda _: None)
        shutil.rmtree(self.infra.state_dir, ignore_errors=True)

    # --- Kafka -----------------------------------------------------------------------------

    def brokers(self) -> dict[int, LocalKafka]:
        return {node.node.node_id: node for node in KafkaCluster(self.infra).nodes}

    def leader_counts(self, prefix: str) -> Counter[int]:
        names = Topics(prefix).all()
        return Counter(
            leader for leader in partition_leaders(self.admin, names).values() if leader >= 0
        )

    def kill_broker(self, node_id: int) -> None:
        node = self.brokers()[node_id]
        pid = node.pid()
        assert pid is not None, f"Kafka node {node_id} is not running"
        os.kill(pid, signal.SIGKILL)
        while node.pid() is not None:
            time.sleep(0.05)
        self._killed_broker = node_id

    def kill_leading_broker(self, prefix: str, coordinator: int | None) -> BrokerKill:
        """SIGKILL the broker that leads the most of the suite's partitions."""
        counts = self.leader_counts(prefix)
        node_id, led = counts.most_common(1)[0]
        self.kill_broker(node_id)
        self.last_broker_kill = BrokerKill(
            node_id, led, sum(counts.values()), node_id == coordinator
        )
        return self.last_broker_kill

    def restart_broker(self, timeout: float = 120) -> float:
        """Start the killed broker again; returns the seconds until no partition is
        under-replicated (it caught up and is back in every ISR)."""
        assert self._killed_broker is not None
        started = time.monotonic()
        self.brokers()[self._killed_broker].start()
        deadline = started + timeout
        while time.monotonic() < deadline:
            health = partition_health(self.admin)
            if not health.under_replicated and not health.offline:
                self._killed_broker = None
                return time.monotonic() - started
            time.sleep(0.5)
        raise AssertionError(f"partitions still under-replicated {timeout:.0f} s after restart")

    # The driver's Infrastructure protocol.
    def kill_kafka(self) -> None:
        self.kill_leading_broker("", None)

    def restart_kafka(self) -> float:
        return self.restart_broker()

    # --- PostgreSQL ------------------------------------------------------------------------

    def patroni(self) -> PatroniPostgres:
        return PatroniPostgres(self.infra, log=lambda _: None)

    def roles(self) -> dict[str, str]:
        return {str(m.get("name")): str(m.get("role")) for m in self.patroni().cluster_members()}

    def member(self, role: str) -> PatroniMember:
        names = [name for name, r in self.roles().items() if r == role]
        assert names, f"no Patroni member is {role}: {self.roles()}"
        [member] = [m for m in self.patroni().members if m.paths.name == names[0]]
        return member

    def superuser(self, member: PatroniMember) -> psycopg.Connection:
        params = self.patroni().superuser_params()
        params.update(
            host=member.paths.host,
            port=member.paths.postgres_port,
            target_session_attrs="any",
        )
        return psycopg.connect(**params, autocommit=True)

    def kill_postgres(self) -> None:
        """SIGKILL the primary's postmaster: its backends die with it, Patroni fails over."""
        primary = self.member("leader")
        pid = primary.postmaster_pid()
        assert pid is not None, "the primary's postmaster is not running"
        os.kill(pid, signal.SIGKILL)
        self._killed_primary = primary.paths.name

    def writable(self) -> str | None:
        """host:port of the primary that takes writes through DATABASE_URL, or None."""
        try:
            with psycopg.connect(self.owner_url, connect_timeout=2, autocommit=True) as conn:
                conn.execute("CREATE TEMP TABLE IF NOT EXISTS probe (n int)")
                return f"{conn.info.host}:{conn.info.port}"
        except psycopg.Error:
            return None

    def wait_writable(self, timeout: float = 90) -> float:
        started = time.monotonic()
        while self.writable() is None:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"no writable primary within {timeout:.0f} s")
            time.sleep(0.1)
        return time.monotonic() - started

    def wait_pair(self, timeout: float = 120) -> float:
        """Seconds until Patroni has a leader and a streaming sync standby again."""
        started = time.monotonic()
        while sorted(self.roles().values()) != ["leader", "sync_standby"]:
            if time.monotonic() - started > timeout:
                raise AssertionError(f"no leader + sync standby within {timeout:.0f} s")
            time.sleep(0.5)
        return time.monotonic() - started

    def restart_postgres(self) -> float:
        """Patroni promotes and brings the old primary back as a standby by itself: wait for a
        writable primary (returned) and then for the pair."""
        took = self.wait_writable()
        self.wait_pair()
        return took
