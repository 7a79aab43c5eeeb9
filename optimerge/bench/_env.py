"""Where a benchmark run writes: its own databases and topics, removed afterwards."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from config import ResolvedSettings
from storage.migrate import apply_migrations
from streams.admin import delete_topics, ensure_topics
from streams.topics import Topics


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextmanager
def scratch_database(settings: ResolvedSettings, label: str) -> Iterator[ResolvedSettings]:
    """A fresh database migrated by the schema owner (who needs CREATEDB), dropped afterwards;
    the settings given back have every role's URL pointing at it, so workers run as the worker
    role there as anywhere."""
    server_url = settings.migration_url
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        apply_migrations(_with_database(server_url, name))
        yield settings.with_overrides(
            database_url=_with_database(settings.database_url, name),
            app_database_url=_with_database(settings.app_url, name),
            migration_database_url=_with_database(server_url, name),
        )
    finally:
        _drop(server_url, name)


def _drop(server_url: str, name: str, attempts: int = 20) -> None:
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    for attempt in range(attempts):
        try:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(statement)
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            # An autovacuum worker (not ours to terminate) is still in it: it leaves soon.
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)


@contextmanager
def scratch_topics(settings: ResolvedSettings, label: str) -> Iterator[Topics]:
    topics = Topics(prefix=f"bench-{label}-{uuid.uuid4().hex[:8]}.")
    ensure_topics(settings.kafka_bootstrap_servers, topics, partitions=settings.partitions)
    try:
        yield topics
    finally:
        delete_topics(settings.kafka_bootstrap_servers, topics.all())
