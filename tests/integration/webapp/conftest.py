"""Fixtures for the reviewer app: one app on the test's own database and topics, and clients
(one per browser session) talking to it."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config import ResolvedSettings
from optimerge.infra.secrets import LocalSecrets
from streams.acls import APP, OPERATOR
from tests.fix_infra import principal_settings
from webapp import AppSettings, create_app


def make_app_settings(**changes: object) -> AppSettings:
    """Plain HTTP (TestClient and the browser test speak it) to the hosts tests use."""
    base = AppSettings(
        secret_key=SecretStr(secrets.token_urlsafe(32)),
        insecure_http=True,
        allowed_hosts=["testserver", "127.0.0.1", "localhost"],
        metrics_token=SecretStr("scrape-" + secrets.token_urlsafe(16)),
    )
    return base.model_copy(update=changes)


def app_identity(settings: ResolvedSettings) -> ResolvedSettings:
    """The test's settings as the app is deployed: its Kafka principal and signing key, and its
    database role for every connection (DATABASE_URL too: nothing in the app runs as the
    worker; docs/contract.md#database-roles)."""
    app = principal_settings(settings, LocalSecrets(settings.infra.state_dir), APP)
    return app.with_overrides(database_url=settings.app_url, app_database_url=settings.app_url)


def app_parts(
    settings: ResolvedSettings, **changes: object
) -> tuple[ResolvedSettings, AppSettings]:
    """What `create_app` takes for the test's settings: the app's principal, signing key and
    database role, its operator console acting as the operator, plain HTTP to the test hosts."""
    secrets_ = LocalSecrets(settings.infra.state_dir)
    changes.setdefault("console_kafka", secrets_.kafka_client(OPERATOR))
    return app_identity(settings), make_app_settings(**changes)


@pytest.fixture
def app_settings() -> AppSettings:
    return make_app_settings(page_size=10)


@pytest.fixture
def app_principal(settings: ResolvedSettings) -> ResolvedSettings:
    """The test's settings as the app: its Kafka principal, signing key and database role."""
    return app_identity(settings)


@pytest.fixture
def running_app(app_principal: ResolvedSettings, app_settings: AppSettings) -> Iterator[Starlette]:
    """The app with its lifespan open: pool, review.actions producer, live feed."""
    if app_settings.console_kafka is None:
        console = LocalSecrets(app_principal.infra.state_dir).kafka_client(OPERATOR)
        app_settings = app_settings.model_copy(update={"console_kafka": console})
    app = create_app(app_principal, app_settings)
    with TestClient(app):
        yield app


@pytest.fixture
def make_client(running_app: Starlette) -> Callable[[], TestClient]:
    def make() -> TestClient:
        return TestClient(running_app, base_url="http://testserver", follow_redirects=False)

    return make
