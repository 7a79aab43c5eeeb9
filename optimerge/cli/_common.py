"""Shared CLI plumbing: settings with endpoints resolved, JSON output, clear failures."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import orjson
import typer

from config import ResolvedSettings, Settings, load_settings


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    from schemas.exact_json import dumps_for_display

    sys.stdout.write(
        dumps_for_display(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
    )


_HOW = "(or set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL)"


def with_kafka() -> tuple[Settings, str]:
    """Settings and the Kafka bootstrap servers: from the env vars or the running local infra."""
    from optimerge.infra import InfraError
    from optimerge.infra.local import kafka_bootstrap

    settings = load_settings()
    try:
        return settings, kafka_bootstrap(settings)
    except InfraError as exc:
        fail(f"{exc}\n{_HOW}")


def with_database() -> tuple[Settings, str]:
    """Settings and the DATABASE_URL: from the env vars or the running local infra."""
    from optimerge.infra import InfraError
    from optimerge.infra.local import database_url

    settings = load_settings()
    try:
        return settings, database_url(settings)
    except InfraError as exc:
        fail(f"{exc}\n{_HOW}")


def resolved() -> ResolvedSettings:
    """Settings with both endpoints known, for what needs Kafka and PostgreSQL."""
    from optimerge.infra import InfraError
    from optimerge.infra.local import env

    settings = load_settings()
    try:
        endpoints = env(settings)
    except InfraError as exc:
        fail(f"{exc}\n{_HOW}")
    return settings.resolved(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
        database_url=endpoints.database_url,
    )
