"""Server-side sessions: the signed cookie carries only a random session id and the CSRF token;
who is logged in lives in PostgreSQL (storage/sessions.py), so logout, a password or role change
and account removal end a session at once, on every app process, and the session key alone
opens nothing. A session ends `session_idle_seconds` after its last request and
`session_max_age_seconds` after login."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import MutableMapping
from datetime import timedelta
from typing import Any

import psycopg

from storage.accounts import UserRow
from storage.sessions import create_session, end_expired_sessions, end_session, session_user
from webapp import csrf
from webapp.context import AppContext

SESSION_ID = "sid"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def _limits(context: AppContext) -> tuple[timedelta, timedelta]:
    settings = context.app_settings
    return (
        timedelta(seconds=settings.session_idle_seconds),
        timedelta(seconds=settings.session_max_age_seconds),
    )


def start(context: AppContext, session: MutableMapping[str, Any], user: str, address: str) -> None:
    """Log `user` in: a new session row, a fresh cookie; nothing set before carries over."""
    session_id = secrets.token_urlsafe(32)
    now = context.clock()
    idle, max_age = _limits(context)

    def write(conn: psycopg.Connection) -> None:
        end_expired_sessions(conn, idle_since=now - idle, started_since=now - max_age)
        create_session(conn, _hash(session_id), user, now, address)

    context.run_db(write)
    session.clear()
    session[SESSION_ID] = session_id
    session[csrf.SESSION_KEY] = csrf.new_token()


def current(context: AppContext, session: MutableMapping[str, Any]) -> UserRow | None:
    """The account of the cookie's session, if that session is still alive (in a thread)."""
    session_id = session.get(SESSION_ID)
    if not isinstance(session_id, str) or not session_id:
        return None
    now = context.clock()
    idle, max_age = _limits(context)
    return context.run_db(
        session_user,
        _hash(session_id),
        now,
        idle_since=now - idle,
        started_since=now - max_age,
    )


def end(context: AppContext, session: MutableMapping[str, Any]) -> None:
    session_id = session.get(SESSION_ID)
    if isinstance(session_id, str) and session_id:
        context.run_db(end_session, _hash(session_id))
    session.clear()
