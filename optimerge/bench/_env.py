"""Where a benchmark run writes: its own databases and topics, removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from config import ResolvedSettings
from storage.databases import create_database, drop_database, with_database
from storage.migrate import apply_migrations
from streams.admin import delete_topics, ensure_topics
from streams.topics import Topics


@contextmanager
def scratch_database(settings: ResolvedSettings, label: str) -> Iterator[ResolvedSettings]:
    """A fresh database migrated by the schema owner (who needs CREATEDB), dropped afterwards;
    the settings given back have every role's URL pointing at it, so workers run as the worker
    role there as anywhere."""
    server_url = settings.migration_url
    name = f"bench_{label}_{uuid.uuid4().hex[:8]}"
    url = create_database(server_url, name)
    try:
        apply_migrations(url)
        yield settings.with_overrides(
            database_url=with_database(settings.database_url, name),
            app_database_url=with_database(settings.app_url, name),
            migration_database_url=url,
        )
    finally:
        # On a busy machine an autovacuum worker can hold a fresh database for long.
        drop_database(server_url, name, attempts=240)


@contextmanager
def scratch_topics(settings: ResolvedSettings, label: str) -> Iterator[Topics]:
    topics = Topics(prefix=f"bench-{label}-{uuid.uuid4().hex[:8]}.")
    ensure_topics(settings.kafka_endpoint, topics, partitions=settings.partitions)
    try:
        yield topics
    finally:
        delete_topics(settings.kafka_endpoint, topics.all())
