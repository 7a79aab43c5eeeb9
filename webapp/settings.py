"""The reviewer app's own settings (OPTIMERGE_APP_*), beside the pipeline's `Settings`."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from config import KafkaClientSettings

SECRET_KEY_FILE = "app-secret-key"  # noqa: S105 (a file name)
METRICS_TOKEN_FILE = "app-metrics-token"  # noqa: S105 (a file name)
# The session key signs the cookie that carries a session's id and CSRF token.
MIN_SECRET_BYTES = 32


class AppConfigError(ValueError):
    """The app refuses to start with these settings; the text says what to change."""


class AppSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="OPTIMERGE_APP_", env_nested_delimiter="__", extra="ignore"
    )

    # Signs session cookies: at least 32 bytes. Unset: generated once and kept in the state dir
    # (mode 0600); set it when several app processes serve the same users.
    secret_key: SecretStr | None = None
    # A session ends this long after login, or after this long without a request.
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    session_idle_seconds: int = Field(default=30 * 60, ge=60)
    # Cookies are `Secure` and HSTS is on, unless the app serves plain HTTP on loopback
    # (`optimerge app --insecure-http`, what `make run` does).
    insecure_http: bool = False
    # Host headers the app answers (a JSON list in the env); anything else is refused (400).
    allowed_hosts: list[str] = Field(default_factory=lambda: ["127.0.0.1", "localhost"])
    # GET /metrics answers only `Authorization: Bearer <token>` (unset: generated into the
    # state dir like the session key, 0600).
    metrics_token: SecretStr | None = None
    # How long an API token lives unless `users token --expires-in-days` says otherwise.
    token_days: int = Field(default=90, ge=1, le=3650)
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
    # Who the operator console acts as on Kafka (OPTIMERGE_APP_CONSOLE_KAFKA__SASL_USERNAME,
    # ...): reading dead letters and retrying them is the operator principal's, never the
    # app's (docs/contract.md#kafka-principals). Unset: the console's dead-letter pages and
    # live letters are unavailable; everything else works.
    console_kafka: KafkaClientSettings | None = None
    # Largest request body accepted (a correction is a document's resources as JSON).
    max_body_bytes: int = Field(default=4 * 1024 * 1024, ge=64 * 1024)


def _strong(key: str, where: str) -> SecretStr:
    if len(key.encode()) < MIN_SECRET_BYTES:
        raise AppConfigError(
            f"the session key ({where}) has {len(key.encode())} bytes; it needs at least "
            f"{MIN_SECRET_BYTES} random bytes (e.g. `openssl rand -hex 32`). The app does not "
            "start with a weak key."
        )
    return SecretStr(key)


def load_or_create_secret(path: Path) -> SecretStr:
    """The key in `path` (it must be strong: an empty file is refused, never used as ""), or a
    new random one written there readable by its owner only."""
    try:
        return _strong(path.read_text().strip(), str(path))
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process created it first: use theirs, so both sign alike.
        return _strong(path.read_text().strip(), str(path))
    with os.fdopen(fd, "w") as out:
        out.write(key + "\n")
    return SecretStr(key)


def resolve_secret(app_settings: AppSettings, state_dir: Path) -> SecretStr:
    if app_settings.secret_key is not None:
        return _strong(app_settings.secret_key.get_secret_value(), "OPTIMERGE_APP_SECRET_KEY")
    return load_or_create_secret(state_dir / SECRET_KEY_FILE)


def resolve_metrics_token(app_settings: AppSettings, state_dir: Path) -> SecretStr:
    if app_settings.metrics_token is not None:
        token = app_settings.metrics_token.get_secret_value()
        if len(token) < 16:
            raise AppConfigError("OPTIMERGE_APP_METRICS_TOKEN needs at least 16 characters")
        return app_settings.metrics_token
    return load_or_create_secret(state_dir / METRICS_TOKEN_FILE)
