"""The reviewer app's own settings (OPTIMERGE_APP_*), beside the pipeline's `Settings`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

SECRET_KEY_FILE = "app-secret-key"  # noqa: S105 (a file name)


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OPTIMERGE_APP_", extra="ignore")

    # Signs session cookies. Unset: generated once and kept in the state dir (mode 0600), so
    # sessions survive a restart; set it when several app processes serve the same users.
    secret_key: SecretStr | None = None
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    # Set behind HTTPS: the session cookie is then never sent in clear, and HSTS is on.
    secure_cookies: bool = False
    page_size: int = Field(default=50, ge=5, le=500)
    # The widget's colours: amber once the oldest flagged document waits this long, red past
    # `overdue_after_days` (red over 7 days by default).
    warn_after_days: float = Field(default=2.0, gt=0)
    overdue_after_days: float = Field(default=7.0, gt=0)
    # How long to wait for Kafka to confirm a review action before telling the reviewer.
    publish_timeout_seconds: float = Field(default=10.0, gt=0)
    db_pool_max: int = Field(default=8, ge=1)
    # The live feed of flagged.items and document.status (off: pages fall back to polling).
    live_updates: bool = True
    # Keep pipeline.metrics in PostgreSQL for the operator console (a consumer group shared by
    # the app processes); off: the console shows what was stored before.
    record_metrics: bool = True
    # Largest request body accepted (a correction is a document's resources as JSON).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)


def load_or_create_secret(path: Path) -> SecretStr:
    """The key in `path`, or a new random one written there readable by its owner only."""
    try:
        return SecretStr(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it first: use theirs, so both sign alike.
        return SecretStr(path.read_text().strip())
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return SecretStr(key)


def resolve_secret(app_settings: AppSettings, state_dir: Path) -> SecretStr:
    if app_settings.secret_key is not None and app_settings.secret_key.get_secret_value():
        return app_settings.secret_key
    return load_or_create_secret(state_dir / SECRET_KEY_FILE)
