"""Keys of signed review actions (OPTIMERGE_SIGNING__*): where this process's private key is,
and which public keys a worker trusts for which actor kind (docs/contract.md#signatures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, field_validator


class SigningSettings(BaseModel):
    # The app's key signs reviewers' actions; an operator's key signs the CLI's.
    key_file: Path | None = None
    # Trusted public keys, one per line: `<reviewer|operator> <base64 key> [comment]`; the
    # inline form takes the same lines, separated by newlines or `;`.
    trusted_keys_file: Path | None = None
    trusted_keys: str = ""
    # An action is refused when the broker appended it more than this long after it was
    # signed (a replay), or it claims to be signed more than `max_clock_skew` in the future.
    max_age_seconds: float = Field(default=300.0, gt=0)
    max_clock_skew_seconds: float = Field(default=60.0, ge=0)

    @field_validator("key_file", "trusted_keys_file", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        # An empty variable means "not set", never the current directory.
        return None if value == "" else value


def signing_env(signing: SigningSettings) -> dict[str, str]:
    """The OPTIMERGE_SIGNING__* variables that give a child process these settings."""
    env = {}
    if signing.key_file is not None:
        env["OPTIMERGE_SIGNING__KEY_FILE"] = str(signing.key_file)
    if signing.trusted_keys_file is not None:
        env["OPTIMERGE_SIGNING__TRUSTED_KEYS_FILE"] = str(signing.trusted_keys_file)
    if signing.trusted_keys:
        env["OPTIMERGE_SIGNING__TRUSTED_KEYS"] = signing.trusted_keys
    return env
