"""Shared CLI plumbing: settings with endpoints resolved, JSON output, clear failures."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import orjson
import typer

from optimerge.settings import Settings, load_settings


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def print_json(obj: Any) -> None:
    sys.stdout.write(
        orjson.dumps(
            obj, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS, default=str
        ).decode()
        + "\n"
    )


def settings_with_endpoints(*, kafka: bool = False, database: bool = False) -> Settings:
    """Settings with Kafka / database endpoints from the env vars or the running local infra."""
    from optimerge.infra._process import InfraError
    from optimerge.infra.local import env

    settings = load_settings()
    if (kafka and not settings.kafka_bootstrap_servers) or (database and not settings.database_url):
        try:
            endpoints = env(settings)
        except InfraError as exc:
            fail(f"{exc}\n(or set KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL)")
        settings = settings.with_overrides(
            kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
            database_url=endpoints.database_url,
        )
    return settings
