"""Helpers for the reviewer app's tests: accounts, a seeded database, logging in, CSRF tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import httpx2 as httpx
from starlette.testclient import TestClient

from config import ResolvedSettings
from domain.reports import IncomingExtraction
from domain.thresholds import RuleThresholds
from optimerge.demo import DemoDocument, build_documents, load_sample
from pipeline.service import MergeService, judge_with
from storage.accounts import create_user
from storage.db import connect
from storage.patients import import_patients
from tests.audit_helpers import shared_keyring
from webapp.passwords import hash_password

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def add_user(database_url: str, name: str, role: str, password: str = PASSWORD) -> None:
    with connect(database_url) as conn:
        create_user(conn, name, role, hash_password(password))


def seed_documents(
    settings: ResolvedSettings, count: int = 60, seed: int = 22
) -> list[DemoDocument]:
    """Demo documents merged straight into PostgreSQL with the real flag rules (no Kafka):
    for tests of what the app reads, where no action is applied."""
    sample = load_sample()
    docs = build_documents(sample, count, seed=seed)
    service = MergeService(judge_with(RuleThresholds()), keyring=shared_keyring())
    with connect(settings.database_url) as conn:
        import_patients(conn, sample.patients)
        service.merge(conn, [IncomingExtraction(d.result, datetime.now(UTC)) for d in docs])
    return docs


def csrf_token(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: TestClient, name: str, password: str = PASSWORD) -> httpx.Response:
    page = client.get("/login")
    return client.post(
        "/login",
        data={"csrf_token": csrf_token(page.text), "name": name, "password": password, "next": "/"},
        follow_redirects=False,
    )


def page_token(client: TestClient, path: str = "/") -> str:
    """The session's CSRF token, as a logged-in page carries it."""
    return csrf_token(client.get(path).text)
