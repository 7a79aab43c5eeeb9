"""The three database roles of a local PostgreSQL (docs/contract.md#database-roles): the schema
owner (migrations only), the worker's and the app's, each with a password of its own kept in
the state dir (0600), and the URLs built from them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from storage.roles import APP_ROLE, WORKER_ROLE

# The owner's file keeps its old name: it was the one role before migration 0007.
_FILES = {"owner": "password", WORKER_ROLE: "worker-password", APP_ROLE: "app-password"}


@dataclass(frozen=True)
class DatabaseUrls:
    worker: str
    app: str
    migration: str


@dataclass(frozen=True)
class RoleSecrets:
    directory: Path
    owner: str

    def path(self, role: str) -> Path:
        return self.directory / _FILES["owner" if role == self.owner else role]

    def roles(self) -> tuple[str, ...]:
        return (self.owner, WORKER_ROLE, APP_ROLE)

    def password(self, role: str) -> str:
        return self.path(role).read_text().strip()

    def passwords(self) -> dict[str, str]:
        return {role: self.password(role) for role in self.roles()}

    def urls(self, hosts: str, database: str, query: str = "") -> DatabaseUrls:
        def url(role: str) -> str:
            password = quote(self.password(role), safe="")
            return f"postgresql://{role}:{password}@{hosts}/{database}{query}"

        return DatabaseUrls(url(WORKER_ROLE), url(APP_ROLE), url(self.owner))


def ensure_roles_and_database(
    superuser: dict[str, Any], owner: str, passwords: dict[str, str], db: str
) -> None:
    """The owner (LOGIN, CREATEDB: the tests make a database per test), the worker and app roles
    (LOGIN only) and the owner's database, via the superuser's connection parameters. Existing
    roles get the password of their file again (a role migration 0007 created NOLOGIN, say)."""
    with psycopg.connect(**superuser, autocommit=True) as conn:
        for role, password in passwords.items():
            options = sql.SQL("LOGIN CREATEDB" if role == owner else "LOGIN NOCREATEDB")
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            verb = sql.SQL("ALTER ROLE" if exists else "CREATE ROLE")
            conn.execute(
                sql.SQL("{} {} {} PASSWORD {}").format(
                    verb, sql.Identifier(role), options, sql.Literal(password)
                )
            )
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (db,)).fetchone():
            conn.execute(
                sql.SQL("CREATE DATABASE {} OWNER {}").format(
                    sql.Identifier(db), sql.Identifier(owner)
                )
            )
