"""Shared CLI plumbing: settings with endpoints resolved, JSON output, clear failures."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import orjson
import typer

from config import ResolvedSettings, Settings, load_settings
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


def with_kafka() -> tuple[Settings, str]:
    """Settings and the Kafka bootstrap servers: from the env vars or the running local infra."""
    from optimerge.infra.local import kafka_bootstrap

    return _local(kafka_bootstrap)


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


def resolved() -> ResolvedSettings:
    """Settings with both endpoints known, for what needs Kafka and PostgreSQL."""
    from optimerge.infra.local import env

    settings, endpoints = _local(env)
    if endpoints.replication_factor:  # the local cluster's topics: as durable as `infra up` made
        settings = settings.with_overrides(replication_factor=endpoints.replication_factor)
    if endpoints.audit_key_file is not None:
        audit = settings.audit.model_copy(update={"key_file": endpoints.audit_key_file})
        settings = settings.with_overrides(audit=audit)
    return settings.resolved(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
        database_url=endpoints.database_url,
        app_database_url=endpoints.app_database_url,
        migration_database_url=endpoints.migration_database_url,
    )
