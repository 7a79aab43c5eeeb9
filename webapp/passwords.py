"""Passwords (argon2id, via argon2-cffi), account names and API tokens."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
TOKEN_PREFIX = "omt_"  # noqa: S105 (a prefix that marks tokens in logs, not a secret)

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    # Verified when the account does not exist, so a wrong name costs as long as a wrong password.
    return _hasher.hash(secrets.token_urlsafe(16))


def check_name(name: str) -> str | None:
    """What is wrong with an account name, or None."""
    if not NAME_PATTERN.match(name):
        return "a name is 1 to 64 letters, digits or . _ @ - and starts with a letter or digit"
    return None


def check_password(password: str) -> str | None:
    """What is wrong with a new password, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"a password needs at least {MIN_PASSWORD_LENGTH} characters"
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"a password has at most {MAX_PASSWORD_LENGTH} characters"
    if not password.strip():
        return "a password cannot be only spaces"
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when it matches; a missing account still costs one argon2 verification."""
    try:
        return _hasher.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)


def new_api_token() -> tuple[str, str]:
    """A new token (shown once) and the sha256 that is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token)


def token_digest(token: str) -> str:
    # Tokens are 256 random bits: a fast hash is enough, no salt or stretching needed.
    return hashlib.sha256(token.encode()).hexdigest()
