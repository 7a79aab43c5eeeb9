"""Signed review actions (pure; docs/contract.md#signatures). The app signs each reviewer's
action, an operator's key signs the CLI's; a worker holds only public keys, so neither it nor
anyone who reads its configuration can mint an action.

Ed25519 over a canonical text of what the action decides: actor, actor kind, document, patient,
action, expected version, the SHA-256 of its body (corrected resources and note) and the time of
signing. The signature names its key: a worker trusts several at once while keys rotate."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from schemas import ActorKind, ReviewAction, ReviewActionKind

SCHEME = "ed25519"
MESSAGE_TAG = "optimerge.review_action.v1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Problem(StrEnum):
    """Why an action's signature is refused (what document.status and the dead letter say)."""

    MISSING = "missing"
    MALFORMED = "malformed"
    UNKNOWN_KEY = "unknown_key"
    WRONG_KIND = "wrong_kind"
    BAD_SIGNATURE = "bad_signature"


class SigningKeyError(ValueError):
    """A key or a trusted-keys line cannot be read; the text says which and why."""


@dataclass(frozen=True, slots=True)
class Verified:
    key_id: str
    kind: ActorKind


@dataclass(frozen=True, slots=True)
class Refused:
    problem: Problem
    detail: str


def _number(value: int | float | Decimal) -> str:
    # 1, 1.0 and 1.00 are one number whichever JSON reader parsed them (float or Decimal).
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    if not exact.is_finite():
        raise ValueError("a signed body holds no NaN or Infinity")
    exact = exact.normalize()
    return "0" if exact.is_zero() else format(exact, "f")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, ASCII, numbers in one plain notation."""
    if value is None or isinstance(value, bool | str):
        return json.dumps(value, ensure_ascii=True)
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, dict):
        items = sorted((str(k), v) for k, v in value.items())
        return "{" + ",".join(f"{json.dumps(k)}:{canonical_json(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical_json(v) for v in value) + "]"
    raise TypeError(f"{type(value).__name__} cannot be signed")


def body_digest(action: ReviewAction) -> str:
    body = {"corrected_resources": action.corrected_resources, "note": action.note}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def signed_message(action: ReviewAction, key_id: str) -> bytes:
    """The bytes a signature covers."""
    fields = [
        MESSAGE_TAG,
        key_id,
        str(action.action_id),
        action.document_id,
        action.patient_id,
        ReviewActionKind(action.action).value,
        action.reviewer,
        ActorKind(action.actor_kind).value,
        action.expected_version,
        body_digest(action),
        _micros(action.requested_at),
    ]
    return canonical_json(fields).encode()


def key_id_of(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_text(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_pem(cls, text: bytes, where: str = "the key") -> SigningKey:
        try:
            key = serialization.load_pem_private_key(text, password=None)
        except (ValueError, TypeError) as exc:
            raise SigningKeyError(f"{where} is not a PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(f"{where} is not an Ed25519 key")
        return cls(key)

    def pem(self) -> bytes:
        return self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def key_id(self) -> str:
        return key_id_of(self.private.public_key())

    def trusted_line(self, kind: ActorKind, comment: str = "") -> str:
        line = f"{kind.value} {public_text(self.private.public_key())}"
        return f"{line} {comment}".rstrip()

    def sign(self, action: ReviewAction) -> ReviewAction:
        """`action` with its signature (signing the action as it is, time included)."""
        signature = self.private.sign(signed_message(action, self.key_id))
        text = base64.urlsafe_b64encode(signature).decode().rstrip("=")
        return action.model_copy(update={"signature": f"{SCHEME}:{self.key_id}:{text}"})


@dataclass(frozen=True)
class TrustedKey:
    kind: ActorKind
    public: Ed25519PublicKey
    comment: str = ""

    @property
    def key_id(self) -> str:
        return key_id_of(self.public)


def parse_trusted_keys(text: str, where: str = "trusted keys") -> list[TrustedKey]:
    """`<reviewer|operator> <base64 Ed25519 public key> [comment]`, one per line (or `;`)."""
    keys = []
    for number, line in enumerate(text.replace(";", "\n").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=2)
        if len(parts) < 2 or parts[0] not in (ActorKind.REVIEWER, ActorKind.OPERATOR):
            raise SigningKeyError(f"{where}, entry {number}: expected '<reviewer|operator> <key>'")
        try:
            raw = base64.b64decode(parts[1], validate=True)
            public = Ed25519PublicKey.from_public_bytes(raw)
        except (binascii.Error, ValueError) as exc:
            raise SigningKeyError(f"{where}, entry {number}: not a base64 Ed25519 key") from exc
        keys.append(TrustedKey(ActorKind(parts[0]), public, parts[2] if len(parts) > 2 else ""))
    return keys


@dataclass(frozen=True)
class Keyring:
    """The public keys a worker trusts, each for one actor kind."""

    keys: tuple[TrustedKey, ...]

    def verify(self, action: ReviewAction) -> Verified | Refused:
        signature = action.signature
        if not signature:
            return Refused(Problem.MISSING, "the action carries no signature")
        scheme, _, rest = signature.partition(":")
        key_id, _, text = rest.partition(":")
        if scheme != SCHEME or not key_id or not text:
            return Refused(Problem.MALFORMED, f"signature is not '{SCHEME}:<key id>:<base64>'")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError):
            return Refused(Problem.MALFORMED, "the signature is not base64url")
        kind = ActorKind(action.actor_kind)
        known = [k for k in self.keys if k.key_id == key_id]
        if not known:
            return Refused(Problem.UNKNOWN_KEY, f"key {key_id} is not trusted")
        allowed = [k for k in known if k.kind == kind]
        if not allowed:
            return Refused(
                Problem.WRONG_KIND, f"key {key_id} may not sign actions of {kind.value}s"
            )
        try:
            message = signed_message(action, key_id)
        except (TypeError, ValueError) as exc:
            return Refused(Problem.MALFORMED, f"the action cannot be verified: {exc}")
        for key in allowed:
            try:
                key.public.verify(raw, message)
            except InvalidSignature:
                continue
            return Verified(key_id, kind)
        return Refused(Problem.BAD_SIGNATURE, f"the signature does not match key {key_id}")


def signer_of(action: ReviewAction) -> str | None:
    """The key id a (verified) action names, for its audit entry."""
    if not action.signature:
        return None
    scheme, _, rest = action.signature.partition(":")
    return rest.partition(":")[0] if scheme == SCHEME else None
