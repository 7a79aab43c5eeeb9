"""Schema migrations, applied with yoyo-migrations (SQL files beside this module)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def current_primary_url(database_url: str) -> str:
    """`database_url` with one host: the one libpq picks now (for a multi-host URL with
    target_session_attrs=read-write, the primary). yoyo parses a single host:port only."""
    parts = urlsplit(database_url)
    if "," not in parts.netloc:
        return database_url
    with psycopg.connect(database_url, connect_timeout=10) as conn:
        host, port = conn.info.host, conn.info.port
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@{host}:{port}" if userinfo else f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def yoyo_url(database_url: str) -> str:
    """yoyo picks its driver from the URL scheme; ours is psycopg 3."""
    database_url = current_primary_url(database_url)
    for prefix in ("postgresql://", "postgres://"):
        if database_url.startswith(prefix):
            return "postgresql+psycopg://" + database_url[len(prefix) :]
    return database_url


def pending_migrations(database_url: str) -> list[str]:
    backend = get_backend(yoyo_url(database_url))
    try:
        return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))]
    finally:
        backend.connection.close()


def apply_migrations(database_url: str) -> list[str]:
    """Apply what is pending, under yoyo's lock so two workers starting at once don't race."""
    backend = get_backend(yoyo_url(database_url))
    try:
        with backend.lock():
            todo = backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))
            backend.apply_migrations(todo)
            return [m.id for m in todo]
    finally:
        backend.connection.close()
