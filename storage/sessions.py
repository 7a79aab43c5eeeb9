"""The reviewer app's server-side sessions (only the SHA-256 of a session id is stored) and its
login throttle, shared by every app process through PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import psycopg

from storage.accounts import UserRow


def create_session(
    conn: psycopg.Connection, session_hash: str, user: str, now: datetime, address: str
) -> None:
    conn.execute(
        "INSERT INTO app_sessions (session_hash, user_name, created_at, last_seen_at, "
        "client_address) VALUES (%s, %s, %s, %s, %s)",
        (session_hash, user, now, now, address[:256]),
    )


def session_user(
    conn: psycopg.Connection,
    session_hash: str,
    now: datetime,
    *,
    idle_since: datetime,
    started_since: datetime,
) -> UserRow | None:
    """The account of a live session, whose idle clock restarts; None when the session was
    ended, idled out, is too old, or its account is gone (then it is deleted)."""
    row = conn.execute(
        "UPDATE app_sessions SET last_seen_at = %s FROM users "
        "WHERE app_sessions.session_hash = %s AND users.name = app_sessions.user_name "
        "AND app_sessions.last_seen_at > %s AND app_sessions.created_at > %s "
        "RETURNING users.name, users.role, users.password_hash, users.created_at",
        (now, session_hash, idle_since, started_since),
    ).fetchone()
    if row is None:
        conn.execute("DELETE FROM app_sessions WHERE session_hash = %s", (session_hash,))
        return None
    return UserRow(*row)


def end_session(conn: psycopg.Connection, session_hash: str) -> None:
    conn.execute("DELETE FROM app_sessions WHERE session_hash = %s", (session_hash,))


def end_expired_sessions(
    conn: psycopg.Connection, *, idle_since: datetime, started_since: datetime
) -> int:
    cur = conn.execute(
        "DELETE FROM app_sessions WHERE last_seen_at <= %s OR created_at <= %s",
        (idle_since, started_since),
    )
    return cur.rowcount


def count_sessions(conn: psycopg.Connection, user: str) -> int:
    row = conn.execute("SELECT count(*) FROM app_sessions WHERE user_name = %s", (user,)).fetchone()
    return int(row[0]) if row else 0


# --- login throttle ---------------------------------------------------------------------------


def blocked_until(conn: psycopg.Connection, keys: list[str], now: datetime) -> datetime | None:
    """The latest end of a block on any of `keys` still running at `now`, or None."""
    row = conn.execute(
        "SELECT max(blocked_until) FROM login_throttle "
        "WHERE throttle_key = ANY(%s) AND blocked_until > %s",
        (keys, now),
    ).fetchone()
    return row[0] if row else None


def record_failure(
    conn: psycopg.Connection,
    key: str,
    now: datetime,
    *,
    free: int,
    cap_seconds: float,
    forget_before: datetime,
) -> int:
    """Count one failure of `key` (a count older than `forget_before` starts again) and block
    it for min(cap, 2^(n - free - 1)) s once it has more than `free`; returns the count."""
    row = conn.execute(
        "INSERT INTO login_throttle AS t (throttle_key, failures, last_failure_at) "
        "VALUES (%(key)s, 1, %(now)s) "
        "ON CONFLICT (throttle_key) DO UPDATE SET "
        "failures = CASE WHEN t.last_failure_at < %(forget)s THEN 1 ELSE t.failures + 1 END, "
        "last_failure_at = %(now)s "
        "RETURNING failures",
        {"key": key, "now": now, "forget": forget_before},
    ).fetchone()
    failures = int(row[0]) if row else 1
    if failures > free:
        delay = min(cap_seconds, 2.0 ** min(failures - free - 1, 30))
        conn.execute(
            "UPDATE login_throttle SET blocked_until = %s + make_interval(secs => %s) "
            "WHERE throttle_key = %s",
            (now, delay, key),
        )
    return failures


def forget_failures(conn: psycopg.Connection, key: str, *, older_than: datetime) -> None:
    """After a success: this key's failures go, and so do everyone's long forgotten ones."""
    conn.execute(
        "DELETE FROM login_throttle WHERE throttle_key = %s OR last_failure_at < %s",
        (key, older_than),
    )
