"""Bringing the system up: infrastructure, topics, schema; and the whole local run with a demo."""

from __future__ import annotations

from config import Settings
from optimerge.infra._process import InfraError, Log, log_to_stderr
from optimerge.infra.local import Endpoints, admin_endpoint, up
from optimerge.infra.principals import provision
from storage.migrate import apply_migrations
from streams.admin import ensure_topics
from streams.topics import Topics


def bring_up(settings: Settings, log: Log = log_to_stderr) -> Endpoints:
    """`infra up`: servers, then the topics (docs/contract.md#topics) and the schema (all
    idempotent)."""
    endpoints = up(settings, log)
    # A local cluster decides its topics' durability; an external Kafka gets the setting.
    factor = endpoints.replication_factor or settings.replication_factor
    topics = Topics(settings.topic_prefix)
    admin = admin_endpoint(settings, endpoints)
    ensure_topics(admin, topics, partitions=settings.partitions, replication_factor=factor)
    log(f"topics ready ({settings.partitions} partitions, replication factor {factor})")
    if endpoints.secrets is not None:
        # An external Kafka's users and ACLs are its operators' business (README: Security).
        group = f"{settings.topic_prefix}{settings.app_id}"
        count = provision(admin, endpoints.secrets, topics, group)
        log(f"Kafka principals ready: extractor, app, worker, operator ({count} ACLs)")
    try:
        applied = apply_migrations(endpoints.database_url)
    except Exception as exc:
        raise InfraError(f"migrating the database failed: {exc}") from exc
    log(f"schema up to date ({len(applied)} migration(s) applied)")
    return endpoints
