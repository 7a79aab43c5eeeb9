"""Kafka and PostgreSQL of the fault suite's own, on free ports under a state dir of its own:
the suite SIGKILLs them, which must not touch the session's servers."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from config import InfraSettings, KafkaEndpoint, ResolvedSettings, Settings
from domain.signing import SigningKey
from optimerge.infra import LocalKafka, LocalPostgres
from optimerge.infra._ports import free_ports
from optimerge.infra._roles import DatabaseUrls
from optimerge.infra.secrets import LocalSecrets
from schemas import ActorKind
from storage.migrate import apply_migrations
from streams.acls import apply_grants, pipeline_grants, reader_grants, upsert_scram_users
from streams.admin import ensure_topics, wait_for_kafka
from streams.topics import Topics


class FaultInfra:
    def __init__(self, state_dir: Path, log=lambda message: None) -> None:
        kafka_port, controller_port, postgres_port = free_ports(3)
        self.infra = InfraSettings(
            state_dir=state_dir,
            kafka_port=kafka_port,
            kafka_controller_port=controller_port,
            postgres_port=postgres_port,
        )
        self.kafka = LocalKafka(self.infra, log=log)
        self.postgres = LocalPostgres(self.infra, log=log)
        self.bootstrap = ""
        self.urls: DatabaseUrls | None = None

    @property
    def database_url(self) -> str:
        assert self.urls is not None, "start() first"
        return self.urls.worker

    def start(self) -> None:
        with ThreadPoolExecutor(2) as pool:
            kafka = pool.submit(self.kafka.start)
            postgres = pool.submit(self.postgres.start)
            self.bootstrap, self.urls = kafka.result(), postgres.result()
        apply_migrations(self.urls.migration)

    @property
    def signer(self) -> SigningKey:
        """The app's key in the suite's state dir: its review actions are signed with it."""
        path = LocalSecrets(self.infra.state_dir).signing_key_file(ActorKind.REVIEWER)
        return SigningKey.from_pem(path.read_bytes())

    @property
    def admin(self) -> KafkaEndpoint:
        """Its broker authenticates too: the suite's own clients act as its admin."""
        return self.kafka.admin_endpoint

    def settings(self, prefix: str, partitions: int) -> ResolvedSettings:
        """Settings on `prefix` as the admin; workers started from them run as the worker
        principal and the worker's database role."""
        assert self.urls is not None, "start() first"
        topics = Topics(prefix)
        secrets = LocalSecrets(self.infra.state_dir)
        ensure_topics(self.admin, topics, partitions=partitions)
        upsert_scram_users(self.admin, secrets.passwords())
        apply_grants(
            self.admin,
            [*pipeline_grants(topics, f"{prefix}{Settings().app_id}"), *reader_grants()],
        )
        # Each role its own, as deployed: the workers append to the trail, never alter it.
        return Settings(
            kafka_bootstrap_servers=self.bootstrap,
            database_url=self.urls.worker,
            app_database_url=self.urls.app,
            migration_database_url=self.urls.migration,
            topic_prefix=prefix,
            partitions=partitions,
            infra=self.infra,
            kafka=secrets.admin(),
            signing=secrets.signing(None),
        ).resolved()

    # --- faults ----------------------------------------------------------------------------

    def kill_postgres(self) -> None:
        """SIGKILL the postmaster: its backends die with it; postmaster.pid stays behind."""
        pid = self.postgres.pid()
        assert pid is not None, "PostgreSQL is not running"
        os.kill(pid, signal.SIGKILL)
        while self.postgres.pid() is not None:  # SIGKILL lands asynchronously
            time.sleep(0.05)

    def restart_postgres(self) -> float:
        """`infra up`'s own start, stale pid file and all; returns how long it took."""
        started = time.monotonic()
        self.postgres.start()
        return time.monotonic() - started

    def kill_kafka(self) -> None:
        pid = self.kafka.pid()
        assert pid is not None, "Kafka is not running"
        os.kill(pid, signal.SIGKILL)
        while self.kafka.pid() is not None:
            time.sleep(0.05)

    def restart_kafka(self) -> float:
        started = time.monotonic()
        self.kafka.start()
        if not wait_for_kafka(self.admin, timeout=60):
            raise RuntimeError("Kafka did not come back")
        return time.monotonic() - started

    def stop(self) -> None:
        for service in (self.kafka, self.postgres):
            with contextlib.suppress(Exception):
                service.stop()
        shutil.rmtree(self.infra.state_dir, ignore_errors=True)
