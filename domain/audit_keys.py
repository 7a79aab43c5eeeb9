"""The audit trail's secret: HMAC-SHA256 keys held outside the database, so that nobody with
only database access can compute an entry's MAC or a checkpoint's signature
(docs/contract.md#audit-trail).

The newest key signs; every key of the ring verifies, so a key is rotated without re-signing
what it signed. Each purpose (entries, checkpoints, verification records) gets a key of its own,
derived from the secret, so a MAC made for one can never pass for another."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum

MIN_SECRET_CHARS = 32
_KEY_ID_LABEL = b"optimerge-audit-key-id\x00"
_PURPOSE_LABEL = b"optimerge-audit\x00"


class Purpose(StrEnum):
    ENTRY = "entry"
    CHECKPOINT = "checkpoint"
    VERIFICATION = "verification"


def new_secret() -> str:
    """A fresh random secret (`infra up` writes one to the state dir)."""
    return secrets.token_urlsafe(48)


def key_id_of(secret: str) -> str:
    """A public name for a secret (16 hex digits): stored beside what it signed."""
    return hashlib.sha256(_KEY_ID_LABEL + secret.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class AuditKey:
    key_id: str
    _derived: dict[Purpose, bytes] = field(repr=False, compare=False)

    @classmethod
    def from_secret(cls, secret: str) -> AuditKey:
        secret = secret.strip()
        if len(secret) < MIN_SECRET_CHARS:
            raise ValueError(f"an audit key needs at least {MIN_SECRET_CHARS} characters")
        raw = secret.encode()
        derived = {
            p: hmac.digest(raw, _PURPOSE_LABEL + p.value.encode(), "sha256") for p in Purpose
        }
        return cls(key_id_of(secret), derived)

    def mac(self, purpose: Purpose, payload: bytes) -> str:
        return hmac.digest(self._derived[purpose], payload, "sha256").hex()


class AuditKeyring:
    """The signing key and the retired keys that still verify what they signed."""

    def __init__(self, current: AuditKey, retired: Sequence[AuditKey] = ()) -> None:
        self.current = current
        self._keys = {k.key_id: k for k in (*retired, current)}

    @classmethod
    def from_secrets(cls, current: str, retired: Sequence[str] = ()) -> AuditKeyring:
        return cls(AuditKey.from_secret(current), [AuditKey.from_secret(s) for s in retired])

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def knows(self, key_id: str | None) -> bool:
        return key_id is not None and key_id in self._keys

    def sign(self, purpose: Purpose, payload: bytes) -> tuple[str, str]:
        """(key id, MAC) under the current key."""
        return self.current.key_id, self.current.mac(purpose, payload)

    def check(self, purpose: Purpose, key_id: str | None, payload: bytes, mac: str) -> bool:
        """True when `mac` is what key `key_id` makes of `payload` (False for unknown keys)."""
        key = self._keys.get(key_id or "")
        return key is not None and hmac.compare_digest(key.mac(purpose, payload), mac)
