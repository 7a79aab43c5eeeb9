"""Accounts of the reviewer app and their API tokens (only hashes are kept)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg


@dataclass(frozen=True, slots=True)
class UserRow:
    name: str
    role: str
    password_hash: str
    created_at: datetime


class UserExistsError(ValueError):
    pass


def create_user(conn: psycopg.Connection, name: str, role: str, password_hash: str) -> None:
    try:
        with conn.transaction():
            conn.execute(
                "INSERT INTO users (name, role, password_hash) VALUES (%s, %s, %s)",
                (name, role, password_hash),
            )
    except psycopg.errors.UniqueViolation as exc:
        raise UserExistsError(f"user {name} already exists") from exc


def get_user(conn: psycopg.Connection, name: str) -> UserRow | None:
    row = conn.execute(
        "SELECT name, role, password_hash, created_at FROM users WHERE name = %s", (name,)
    ).fetchone()
    return None if row is None else UserRow(*row)


def list_users(conn: psycopg.Connection) -> list[UserRow]:
    rows = conn.execute(
        "SELECT name, role, password_hash, created_at FROM users ORDER BY name"
    ).fetchall()
    return [UserRow(*row) for row in rows]


def update_password_hash(conn: psycopg.Connection, name: str, password_hash: str) -> None:
    """Store a rehashed password (argon2 parameters grew since it was hashed)."""
    conn.execute(
        "UPDATE users SET password_hash = %s, updated_at = now() WHERE name = %s",
        (password_hash, name),
    )


def create_api_token(conn: psycopg.Connection, user: str, token_hash: str, label: str) -> None:
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_name, label) VALUES (%s, %s, %s)",
        (token_hash, user, label),
    )


def user_for_token(conn: psycopg.Connection, token_hash: str) -> UserRow | None:
    row = conn.execute(
        "UPDATE api_tokens SET last_used_at = now() FROM users "
        "WHERE api_tokens.token_hash = %s AND users.name = api_tokens.user_name "
        "RETURNING users.name, users.role, users.password_hash, users.created_at",
        (token_hash,),
    ).fetchone()
    return None if row is None else UserRow(*row)


def schema_ready(conn: psycopg.Connection) -> bool:
    """True once the app's tables exist (`optimerge migrate` has run)."""
    row = conn.execute("SELECT to_regclass('users') IS NOT NULL").fetchone()
    return bool(row and row[0])
