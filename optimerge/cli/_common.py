"""Shared CLI plumbing: settings with endpoints resolved, JSON output, clear failures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import orjson
import typer

from config import KafkaEndpoint, ResolvedSettings, Settings, SigningSettings, load_settings
from domain.audit_keys import AuditKeyring


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    from schemas.exact_json import dumps_for_display

    sys.stdout.write(
        dumps_for_display(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
    )


_HOW = "(or set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL)"
T = TypeVar("T")


def _local(lookup: Callable[[Settings], T]) -> tuple[Settings, T]:
    from optimerge.infra import InfraError

    settings = load_settings()
    try:
        return settings, lookup(settings)
    except InfraError as exc:
        fail(f"{exc}\n{_HOW}")


def with_kafka(principal: str = "operator") -> tuple[Settings, KafkaEndpoint]:
    """Settings and Kafka as `principal`: from the env vars (KAFKA_BOOTSTRAP_SERVERS and
    OPTIMERGE_KAFKA__*), or the running local infra with that principal's credentials."""
    from optimerge.infra.local import Endpoints, kafka_bootstrap

    settings, bootstrap = _local(kafka_bootstrap)
    if settings.kafka_bootstrap_servers:
        return settings, KafkaEndpoint(bootstrap, settings.kafka)
    local = Endpoints(bootstrap, "", state_dir=settings.infra.state_dir)
    return settings, local.endpoint(principal)


def with_database() -> tuple[Settings, str]:
    """Settings and the DATABASE_URL (the worker's role): from the env vars or the running
    local infra."""
    from optimerge.infra.local import database_url

    return _local(database_url)


def with_app_database() -> tuple[Settings, str]:
    """Settings and the app role's URL (OPTIMERGE_APP_DATABASE_URL, else DATABASE_URL): what
    the reading and account commands use (docs/contract.md#database-roles)."""
    from optimerge.infra.local import database_urls

    settings, urls = _local(database_urls)
    return settings, urls.app


def with_migration_database() -> tuple[Settings, str]:
    """Settings and the schema owner's URL (OPTIMERGE_MIGRATION_DATABASE_URL, else
    DATABASE_URL): for `optimerge migrate` only."""
    from optimerge.infra.local import database_urls

    settings, urls = _local(database_urls)
    return settings, urls.migration


def audit_keyring(settings: Settings) -> AuditKeyring:
    from config import MissingAuditKeyError

    try:
        return settings.audit_keyring()
    except MissingAuditKeyError as exc:
        fail(str(exc))


def resolved(principal: str = "operator") -> ResolvedSettings:
    """Settings with both endpoints known, for what needs Kafka and PostgreSQL. Locally (no
    KAFKA_BOOTSTRAP_SERVERS), the process runs as `principal`, with its signing keys."""
    from optimerge.infra.local import env

    settings, endpoints = _local(env)
    if endpoints.replication_factor:  # the local cluster's topics: as durable as `infra up` made
        settings = settings.with_overrides(replication_factor=endpoints.replication_factor)
    if endpoints.audit_key_file is not None:
        audit = settings.audit.model_copy(update={"key_file": endpoints.audit_key_file})
        settings = settings.with_overrides(audit=audit)
    local = endpoints.principal(principal)
    if local is not None:
        settings = settings.with_overrides(kafka=local.kafka, signing=local.signing)
    return settings.resolved(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
        database_url=endpoints.database_url,
        app_database_url=endpoints.app_database_url,
        migration_database_url=endpoints.migration_database_url,
    )


def signing_of(settings: Settings, principal: str = "operator") -> SigningSettings:
    """The signing keys of `principal`: from OPTIMERGE_SIGNING__* when Kafka is configured in the
    env, else the local infra's (made by `infra up`)."""
    if settings.kafka_bootstrap_servers:
        return settings.signing
    from optimerge.infra.local import Endpoints

    local = Endpoints("", "", state_dir=settings.infra.state_dir).principal(principal)
    return settings.signing if local is None else local.signing
