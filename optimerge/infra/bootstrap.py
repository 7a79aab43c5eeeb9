"""Bringing the system up: infrastructure, topics, schema; and the whole local run with a demo."""

from __future__ import annotations

from config import Settings
from optimerge.infra._process import InfraError, Log, log_to_stderr
from optimerge.infra.local import Endpoints, up
from storage.migrate import apply_migrations
from streams.admin import ensure_topics
from streams.topics import Topics


def bring_up(settings: Settings, log: Log = log_to_stderr) -> Endpoints:
    """`infra up`: servers, then the topics (docs/contract.md#topics) and the schema (all
    idempotent)."""
    endpoints = up(settings, log)
    # A local cluster decides its topics' durability; an external Kafka gets the setting.
    factor = endpoints.replication_factor or settings.replication_factor
    ensure_topics(
        endpoints.kafka_bootstrap_servers,
        Topics(settings.topic_prefix),
        partitions=settings.partitions,
        replication_factor=factor,
    )
    log(f"topics ready ({settings.partitions} partitions, replication factor {factor})")
    try:
        applied = apply_migrations(endpoints.database_url)
    except Exception as exc:
        raise InfraError(f"migrating the database failed: {exc}") from exc
    log(f"schema up to date ({len(applied)} migration(s) applied)")
    return endpoints
