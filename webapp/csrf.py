"""CSRF protection: a per-session synchronizer token, sent back by every form (or header)."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import MutableMapping
from typing import Any

SESSION_KEY = "csrf"
FORM_FIELD = "csrf_token"
HEADER = "x-csrf-token"


class CsrfError(Exception):
    """A state-changing request without the session's CSRF token."""


def new_token() -> str:
    return secrets.token_urlsafe(32)


def session_token(session: MutableMapping[str, Any]) -> str:
    """The session's token, created on first use (the login form needs one before login)."""
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        token = new_token()
        session[SESSION_KEY] = token
    return token


def tokens_match(expected: object, submitted: object) -> bool:
    """Constant-time comparison; anything missing or not a string never matches."""
    if not isinstance(expected, str) or not isinstance(submitted, str):
        return False
    if not expected or not submitted:
        return False
    return hmac.compare_digest(expected.encode(), submitted.encode())


def check(session: MutableMapping[str, Any], submitted: object) -> None:
    if not tokens_match(session.get(SESSION_KEY), submitted):
        raise CsrfError("missing or wrong CSRF token")
