"""Whole databases: the scratch ones the bench and the tests make, and dropping them again."""

from __future__ import annotations

import time
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql


def with_database(url: str, name: str) -> str:
    """`url` pointing at database `name` instead."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def create_database(server_url: str, name: str, *, template: str | None = None) -> str:
    """CREATE DATABASE `name` (optionally from `template`; the role needs CREATEDB); its URL."""
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(statement)
    return with_database(server_url, name)


def drop_database(server_url: str, name: str, *, attempts: int = 20) -> None:
    """DROP DATABASE IF EXISTS ... WITH (FORCE), waiting out an autovacuum worker in it."""
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    for attempt in range(attempts):
        try:
            with psycopg.connect(server_url, autocommit=True) as conn:
                conn.execute(statement)
            return
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            # An autovacuum worker (a superuser's, not ours to terminate) leaves soon.
            if attempt == attempts - 1:
                raise
            time.sleep(0.5)
