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


def update_password_hash(
    conn: psycopg.Connection, name: str, password_hash: str, *, end_sessions: bool = True
) -> None:
    """Store a new password's hash and end the account's sessions (a stolen session must not
    outlive the password change). A rehash of the same password keeps them."""
    with conn.transaction():
        conn.execute(
            "UPDATE users SET password_hash = %s, updated_at = now() WHERE name = %s",
            (password_hash, name),
        )
        if end_sessions:
            conn.execute("DELETE FROM app_sessions WHERE user_name = %s", (name,))


def set_role(conn: psycopg.Connection, name: str, role: str) -> bool:
    """A new role (a trigger ends the account's sessions); False if there is no such account."""
    with conn.transaction():
        cur = conn.execute(
            "UPDATE users SET role = %s, updated_at = now() WHERE name = %s", (role, name)
        )
    return cur.rowcount == 1


def remove_user(conn: psycopg.Connection, name: str) -> bool:
    """Remove an account; its sessions and tokens go with it (ON DELETE CASCADE)."""
    with conn.transaction():
        cur = conn.execute("DELETE FROM users WHERE name = %s", (name,))
    return cur.rowcount == 1


@dataclass(frozen=True, slots=True)
class TokenRow:
    token_id: str
    user_name: str
    label: str
    created_at: datetime
    expires_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


# Tokens are listed and revoked by the first hex digits of their hash, never by the token.
TOKEN_ID_CHARS = 12


def create_api_token(
    conn: psycopg.Connection,
    user: str,
    token_hash: str,
    label: str,
    expires_at: datetime | None = None,
) -> str:
    """A token that expires at `expires_at` (None: 90 days from now, the default lifetime)."""
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_name, label, expires_at) "
        "VALUES (%s, %s, %s, coalesce(%s, now() + interval '90 days'))",
        (token_hash, user, label, expires_at),
    )
    return token_hash[:TOKEN_ID_CHARS]


def user_for_token(
    conn: psycopg.Connection, token_hash: str, now: datetime | None = None
) -> UserRow | None:
    """The account of a live token (not revoked, not expired at `now`)."""
    row = conn.execute(
        "UPDATE api_tokens SET last_used_at = coalesce(%s, now()) FROM users "
        "WHERE api_tokens.token_hash = %s AND users.name = api_tokens.user_name "
        "AND api_tokens.revoked_at IS NULL AND api_tokens.expires_at > coalesce(%s, now()) "
        "RETURNING users.name, users.role, users.password_hash, users.created_at",
        (now, token_hash, now),
    ).fetchone()
    return None if row is None else UserRow(*row)


def list_tokens(conn: psycopg.Connection, user: str | None = None) -> list[TokenRow]:
    rows = conn.execute(
        "SELECT left(token_hash, %s), user_name, label, created_at, expires_at, last_used_at, "
        "revoked_at FROM api_tokens WHERE %s::text IS NULL OR user_name = %s "
        "ORDER BY user_name, created_at",
        (TOKEN_ID_CHARS, user, user),
    ).fetchall()
    return [TokenRow(*row) for row in rows]


def revoke_tokens(
    conn: psycopg.Connection, *, token_id: str | None = None, user: str | None = None
) -> int:
    """Revoke one token (by its id) or every live token of an account; returns how many."""
    if (token_id is None) == (user is None):
        raise ValueError("revoke one token id, or every token of one account")
    with conn.transaction():
        if token_id is not None:
            if len(token_id) < TOKEN_ID_CHARS:
                return 0
            cur = conn.execute(
                "UPDATE api_tokens SET revoked_at = now() "
                "WHERE left(token_hash, %s) = %s AND revoked_at IS NULL",
                (TOKEN_ID_CHARS, token_id[:TOKEN_ID_CHARS]),
            )
        else:
            cur = conn.execute(
                "UPDATE api_tokens SET revoked_at = now() "
                "WHERE user_name = %s AND revoked_at IS NULL",
                (user,),
            )
    return cur.rowcount


def schema_ready(conn: psycopg.Connection) -> bool:
    """True once the app's tables exist (`optimerge migrate` has run)."""
    row = conn.execute("SELECT to_regclass('app_sessions') IS NOT NULL").fetchone()
    return bool(row and row[0])
