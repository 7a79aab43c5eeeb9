"""Typed settings: env vars (OPTIMERGE_*, plus KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL) and an
optional TOML file named by OPTIMERGE_CONFIG. Only composition lives here: each part's own data
(the rules' thresholds, say) is defined by the package it belongs to."""

from __future__ import annotations

import os
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path
from typing import Any

from pydantic import AliasChoices, BaseModel, Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from config.audit import AuditSettings
from config.kafka import KafkaClientSettings, KafkaEndpoint
from config.signing import SigningSettings
from domain.audit_keys import AuditKeyring
from domain.notifications import NotifySettings
from domain.thresholds import RuleThresholds


def _default_state_dir() -> Path:
    # Relative to where the command runs (like git's .git), never to where the code is installed.
    return Path.cwd() / ".state"


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "optimerge"


class InfraSettings(BaseModel):
    """Where and how `optimerge infra up` runs the local Kafka and PostgreSQL processes."""

    state_dir: Path = Field(default_factory=_default_state_dir)
    cache_dir: Path = Field(default_factory=_default_cache_dir)
    kafka_version: str = "4.1.1"
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    kafka_heap: str = "512m"
    postgres_port: int = 15432
    postgres_user: str = "optimerge"
    postgres_database: str = "optimerge"
    # PostgreSQL refuses to run as root: this OS account runs it when we are root.
    postgres_os_user: str = "optimerge"
    # None: as many as the state dir's cluster has, else 1 (`infra up --brokers N`).
    kafka_brokers: int | None = Field(default=None, ge=1)
    # None: as the state dir has it, else a single server (`infra up --postgres-standby`).
    postgres_standby: bool | None = None
    # With the standby: its PostgreSQL listens on postgres_port + 1, Patroni's REST APIs on
    # patroni_port and patroni_port + 1, etcd on etcd_port (clients) and etcd_port + 1 (peers).
    patroni_port: int = 18008
    etcd_port: int = 12379
    # True: no commit while the standby is down (not the primary alone); read when the pair is
    # first created (later: `patronictl edit-config`).
    postgres_synchronous_strict: bool = False
    # The address Kafka's client listeners and the Patroni pair's PostgreSQL listen on and
    # advertise. Another local address (a veth's host side, say) lets clients in a network
    # namespace reach them; the KRaft controllers, Patroni's REST APIs and etcd stay on 127.0.0.1.
    listen_host: IPv4Address = IPv4Address("127.0.0.1")
    # With another listen_host: the network whose clients the Patroni pair lets in besides
    # listen_host itself (pg_hba, scram-sha-256), e.g. the namespace's end of that veth.
    client_network: IPv4Network | None = None


class MissingEndpointError(RuntimeError):
    """Kafka or PostgreSQL is not configured; the text says how to configure it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OPTIMERGE_",
        env_nested_delimiter="__",
        extra="ignore",
    )

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        validation_alias=AliasChoices(
            "KAFKA_BOOTSTRAP_SERVERS", "OPTIMERGE_KAFKA_BOOTSTRAP_SERVERS"
        ),
    )
    # The worker's role: appends to the audit trail, never alters it
    # (docs/contract.md#database-roles).
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "OPTIMERGE_DATABASE_URL")
    )
    # The app's role (the app, the notifier, `audit verify|checkpoint`, the reading commands),
    # and the schema owner's (`optimerge migrate` only). Unset: DATABASE_URL's, one role for
    # all, which then owns the audit table and could disable its triggers.
    app_database_url: str | None = None
    migration_database_url: str | None = None
    # Prepended to every topic name and the consumer group: lets tests (and tenants) stay apart.
    topic_prefix: str = ""
    partitions: int = Field(default=12, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    app_id: str = "optimerge"
    batch_max_events: int = Field(default=500, ge=1)
    # How long a batch waits to fill; a full batch (batch_max_events) goes at once.
    batch_within_seconds: float = Field(default=0.02, gt=0)
    # With events already waiting, a batch's outputs are delivered while the next one merges.
    overlap_delivery: bool = True
    gil_switch_interval_seconds: float = Field(default=0.001, gt=0, le=0.1)
    # A fetch of the worker's input waits up to this long for this much (whichever is first):
    # fuller fetches when events trickle in (streams/read_committed.py says why).
    consumer_fetch_min_bytes: int = Field(default=1024 * 1024, ge=1)
    consumer_fetch_max_wait_ms: int = Field(default=10, ge=1, le=1500)  # 0 would spin
    max_event_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # A batch failing this many times for a reason that is not an outage is split down to the
    # event that fails, which is dead-lettered as `stuck` (docs/contract.md#dead-letters).
    stuck_after_tries: int = Field(default=5, ge=1, le=100)
    # Static group membership (KIP-345): a stable name per worker (a pod name, say). A worker
    # restarted under the same id gets its partitions back without a rebalance. Unset: the
    # worker joins as a new member and every join or death rebalances the group.
    worker_instance_id: str | None = Field(
        default=None, min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$"
    )
    # How long the broker waits for a silent worker before its partitions move (dead workers
    # not restarted resume elsewhere within about this plus a rebalance).
    worker_session_timeout_seconds: float = Field(default=10.0, ge=6.0, le=300.0)
    worker_heartbeat_interval_seconds: float = Field(default=1.0, gt=0, le=10.0)
    # How long a rebalance waits for every member to rejoin (a member inside a batch rejoins
    # once it is written).
    worker_rebalance_timeout_seconds: float = Field(default=10.0, ge=1.0, le=300.0)
    metrics_window_seconds: float = Field(default=60.0, gt=0)
    # Each worker publishes a heartbeat this often; one missing for 3 intervals is gone.
    heartbeat_interval_seconds: float = Field(default=5.0, gt=0)
    rules: RuleThresholds = Field(default_factory=RuleThresholds)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    infra: InfraSettings = Field(default_factory=InfraSettings)
    # Who this process is on Kafka (OPTIMERGE_KAFKA__SASL_USERNAME, ...) and its signing keys.
    kafka: KafkaClientSettings = Field(default_factory=KafkaClientSettings)
    signing: SigningSettings = Field(default_factory=SigningSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("OPTIMERGE_CONFIG")
        if config_file:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config_file)))
        return tuple(sources)

    def with_overrides(self, **changes: Any) -> Settings:
        return self.model_copy(update=changes)

    def audit_keyring(self) -> AuditKeyring:
        """The audit key ring (raises MissingAuditKeyError saying how to configure one)."""
        return self.audit.keyring(self.infra.state_dir)

    def resolved(
        self,
        *,
        kafka_bootstrap_servers: str | None = None,
        database_url: str | None = None,
        app_database_url: str | None = None,
        migration_database_url: str | None = None,
    ) -> ResolvedSettings:
        """These settings with both endpoints known (given here, or configured already)."""
        bootstrap = kafka_bootstrap_servers or self.kafka_bootstrap_servers
        database = database_url or self.database_url
        if not bootstrap:
            raise MissingEndpointError(
                "KAFKA_BOOTSTRAP_SERVERS is not set (run `optimerge infra up` first)"
            )
        if not database:
            raise MissingEndpointError("DATABASE_URL is not set (run `optimerge infra up` first)")
        fields = {name: getattr(self, name) for name in type(self).model_fields}
        fields.update(kafka_bootstrap_servers=bootstrap, database_url=database)
        if app_database_url:
            fields["app_database_url"] = app_database_url
        if migration_database_url:
            fields["migration_database_url"] = migration_database_url
        return ResolvedSettings.model_construct(**fields)


class ResolvedSettings(Settings):
    """Settings of a running system: Kafka and PostgreSQL are known, so nothing checks again."""

    kafka_bootstrap_servers: str
    database_url: str

    @property
    def app_url(self) -> str:
        """The app's role, or DATABASE_URL's where the deployment has one role."""
        return self.app_database_url or self.database_url

    @property
    def migration_url(self) -> str:
        return self.migration_database_url or self.database_url

    @property
    def kafka_endpoint(self) -> KafkaEndpoint:
        return KafkaEndpoint(self.kafka_bootstrap_servers, self.kafka)

    def with_overrides(self, **changes: Any) -> ResolvedSettings:
        return self.model_copy(update=changes)


def load_settings(**overrides: Any) -> Settings:
    return Settings(**overrides)
