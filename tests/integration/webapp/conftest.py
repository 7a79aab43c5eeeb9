"""Fixtures for the reviewer app: one app on the test's own database and topics, and clients
(one per browser session) talking to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config import ResolvedSettings
from webapp import AppSettings, create_app


@pytest.fixture
def app_settings() -> AppSettings:
    return AppSettings(secret_key=SecretStr("test-secret-" + "x" * 40), page_size=10)


@pytest.fixture
def running_app(settings: ResolvedSettings, app_settings: AppSettings) -> Iterator[Starlette]:
    """The app with its lifespan open: pool, review.actions producer, live feed."""
    app = create_app(settings, app_settings)
    with TestClient(app):
        yield app


@pytest.fixture
def make_client(running_app: Starlette) -> Callable[[], TestClient]:
    def make() -> TestClient:
        return TestClient(running_app, base_url="http://testserver", follow_redirects=False)

    return make
