"""Bringing the system up: infrastructure, topics, schema and the audit key; and the whole local
run with a demo."""

from __future__ import annotations

import os
from pathlib import Path

from config import Settings
from config.audit import STATE_KEY_FILE
from domain.audit_keys import new_secret
from optimerge.infra._process import InfraError, Log, log_to_stderr
from optimerge.infra.local import Endpoints, admin_endpoint, up
from optimerge.infra.principals import provision
from storage.migrate import apply_migrations
from streams.acls import PRINCIPALS
from streams.admin import ensure_topics
from streams.topics import Topics


def ensure_audit_key(settings: Settings, log: Log = log_to_stderr) -> Path | None:
    """The audit key in the state dir (0600, made once) unless the settings name one."""
    if settings.audit.key is not None or settings.audit.key_file is not None:
        return None
    path = settings.infra.state_dir / STATE_KEY_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "w") as out:
        out.write(new_secret() + "\n")
    log(f"created the audit key {path} (keep a copy: without it the trail cannot be verified)")
    return path


def bring_up(settings: Settings, log: Log = log_to_stderr) -> Endpoints:
    """`infra up`: servers, then the topics (docs/contract.md#topics), the audit key and the
    schema (all idempotent)."""
    ensure_audit_key(settings, log)
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
        log(f"Kafka principals ready: {', '.join(PRINCIPALS)} ({count} ACLs)")
    try:
        applied = apply_migrations(endpoints.migration_database_url or endpoints.database_url)
    except Exception as exc:
        raise InfraError(f"migrating the database failed: {exc}") from exc
    log(f"schema up to date ({len(applied)} migration(s) applied)")
    return endpoints
