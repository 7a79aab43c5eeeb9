"""Signing review actions in tests as the app or an operator would (their keys live in the test
session's state dir, tests/fix_infra.py), and a key nobody trusts, for forgeries."""

from __future__ import annotations

from datetime import datetime

from config import ResolvedSettings
from domain.signing import SigningKey
from optimerge.infra.secrets import LocalSecrets
from schemas import ActorKind, ReviewAction


def key_of(settings: ResolvedSettings, kind: ActorKind) -> SigningKey:
    path = LocalSecrets(settings.infra.state_dir).signing_key_file(kind)
    return SigningKey.from_pem(path.read_bytes())


def sign_as(
    settings: ResolvedSettings, action: ReviewAction, *, at: datetime | None = None
) -> ReviewAction:
    """`action` signed with the key of its actor kind (the app's for reviewers), stamped `at`."""
    if at is not None:
        action = action.model_copy(update={"requested_at": at})
    return key_of(settings, ActorKind(action.actor_kind)).sign(action)
