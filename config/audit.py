"""Where the audit key comes from (OPTIMERGE_AUDIT__*): never from the database it protects."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr

from domain.audit_keys import AuditKeyring

# Written by `optimerge infra up` (0600) when no key is configured.
STATE_KEY_FILE = Path("secrets") / "audit-key"


class MissingAuditKeyError(RuntimeError):
    """No audit key is configured; the text says how to configure one."""


class AuditSettings(BaseModel):
    # The signing key (32+ characters). Or `key_file`: its first line signs, further lines
    # are retired keys that still verify. Neither: `<state_dir>/secrets/audit-key`.
    key: SecretStr | None = None
    key_file: Path | None = None
    # Keys rotated out: what they signed still verifies (OPTIMERGE_AUDIT__RETIRED_KEYS='["..."]').
    retired_keys: tuple[SecretStr, ...] = ()
    # How often `optimerge audit checkpoint` verifies and signs every patient's chain head.
    checkpoint_interval_seconds: float = Field(default=60.0, gt=0, le=3600)
    # A verification older than this is shown as stale (the checkpointer is not running).
    stale_after_seconds: float = Field(default=300.0, gt=0)

    def child_env(self, state_dir: Path) -> dict[str, str]:
        """The variables a child process (a worker the bench starts, say) finds the same keys by."""
        env = {}
        if self.key is not None and self.key.get_secret_value().strip():
            env["OPTIMERGE_AUDIT__KEY"] = self.key.get_secret_value()
        else:
            env["OPTIMERGE_AUDIT__KEY_FILE"] = str(
                (self.key_file or state_dir / STATE_KEY_FILE).resolve()
            )
        if self.retired_keys:
            env["OPTIMERGE_AUDIT__RETIRED_KEYS"] = json.dumps(
                [s.get_secret_value() for s in self.retired_keys]
            )
        return env

    def keyring(self, state_dir: Path) -> AuditKeyring:
        retired = [s.get_secret_value() for s in self.retired_keys]
        if self.key is not None and self.key.get_secret_value().strip():
            return _ring(self.key.get_secret_value(), retired, "OPTIMERGE_AUDIT__KEY")
        path = self.key_file or state_dir / STATE_KEY_FILE
        try:
            lines = [line.strip() for line in path.read_text().splitlines() if line.strip()]
        except OSError as exc:
            raise MissingAuditKeyError(
                f"no audit key: set OPTIMERGE_AUDIT__KEY or OPTIMERGE_AUDIT__KEY_FILE, or run "
                f"`optimerge infra up` to create {path} ({exc.strerror})"
            ) from None
        if not lines:
            raise MissingAuditKeyError(f"the audit key file {path} is empty")
        return _ring(lines[0], [*lines[1:], *retired], str(path))


def _ring(current: str, retired: list[str], source: str) -> AuditKeyring:
    try:
        return AuditKeyring.from_secrets(current, retired)
    except ValueError as exc:
        raise MissingAuditKeyError(f"{source}: {exc}") from None
