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


@pytest.fixture
def app_settings() -> AppSettings:
    return make_app_settings(page_size=10)


@pytest.fixture
def app_principal(as_principal: Callable[[str], ResolvedSettings]) -> ResolvedSettings:
    """The test's settings as the app's Kafka principal, with the app's signing key."""
    return as_principal("app")


@pytest.fixture
def running_app(app_principal: ResolvedSettings, app_settings: AppSettings) -> Iterator[Starlette]:
    """The app with its lifespan open: pool, review.actions producer, live feed."""
    app = create_app(app_principal, app_settings)
    with TestClient(app):
        yield app


@pytest.fixture
def make_client(running_app: Starlette) -> Callable[[], TestClient]:
    def make() -> TestClient:
        return TestClient(running_app, base_url="http://testserver", follow_redirects=False)

    return make
