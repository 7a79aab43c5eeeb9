"""Nothing without logging in; roles decide the rest; every form needs the session's CSRF token."""

from __future__ import annotations

import re
from collections.abc import Callable

from starlette.routing import Route
from starlette.testclient import TestClient

from config import ResolvedSettings
from storage.accounts import get_user
from storage.db import connect
from streams.topics import Topics
from webapp import AppSettings
from webapp.app import routes

from ..pipeline._helpers import read_topic
from ._support import PASSWORD, add_user, csrf_token, login, page_token, seed_documents

PUBLIC = {
    ("/login", "GET"),
    ("/login", "POST"),
    ("/healthz", "GET"),
    ("/readyz", "GET"),
    ("/metrics", "GET"),
}
# API descriptions, no data: a FHIR client reads the CapabilityStatement before it authenticates.
PUBLIC |= {("/openapi.json", "GET"), ("/fhir/metadata", "GET")}


def _guarded() -> list[tuple[str, str]]:
    out = []
    for route in routes():
        if not isinstance(route, Route):
            continue
        path = re.sub(r"\{(\w+)(:\w+)?\}", "some-id", route.path)
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if (route.path, method) not in PUBLIC:
                out.append((path, method))
    return out


GUARDED = _guarded()


def test_the_route_list_is_not_empty():
    assert len(GUARDED) >= 17
    assert ("/documents/some-id/verify/", "GET") in GUARDED
    assert ("/api/documents/some-id/actions", "POST") in GUARDED


def test_without_login_every_page_redirects_and_every_api_call_is_401(
    make_client: Callable[[], TestClient],
) -> None:
    client = make_client()
    for path, method in GUARDED:
        response = client.request(method, path)
        where = f"{method} {path}"
        if path.startswith("/fhir/"):
            assert response.status_code == 401, where
            assert response.headers["www-authenticate"].startswith("Bearer"), where
            assert response.json()["issue"][0]["code"] == "login", where
        elif path.startswith(("/api/", "/events")):
            assert response.status_code == 401, where
            assert response.headers["www-authenticate"].startswith("Bearer"), where
            assert "log in" in response.json()["error"], where
        else:
            assert response.status_code == 302, where
            assert response.headers["location"].startswith("/login?next="), where


def test_public_endpoints_answer_without_login(
    make_client: Callable[[], TestClient], app_settings: AppSettings
) -> None:
    client = make_client()
    assert client.get("/login").status_code == 200
    # Up or down, and nothing more: no database, no versions, no names.
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/static/app.css").status_code == 200
    # Metrics (login counts, routes, queue sizes) only for the scrape token.
    assert client.get("/metrics").status_code == 401
    wrong = {"Authorization": "Bearer not-the-token"}
    assert client.get("/metrics", headers=wrong).status_code == 401
    assert app_settings.metrics_token is not None
    scrape = {"Authorization": f"Bearer {app_settings.metrics_token.get_secret_value()}"}
    assert "optimerge_app_requests_total" in client.get("/metrics", headers=scrape).text
    assert client.get("/readyz").json()["status"] == "ready"
    assert client.get("/fhir/metadata").json()["resourceType"] == "CapabilityStatement"
    assert client.get("/openapi.json").json()["openapi"] == "3.1.0"


def test_a_forged_session_or_token_is_refused(
    settings: ResolvedSettings, make_client: Callable[[], TestClient]
) -> None:
    add_user(settings.app_url, "ana", "reviewer")
    client = make_client()
    client.cookies.set("optimerge_session", "eyJ1c2VyIjogImFuYSJ9.forged.signature")
    assert client.get("/").status_code == 302
    bad_token = {"Authorization": "Bearer omt_not-a-real-token"}
    assert make_client().get("/api/flagged", headers=bad_token).status_code == 401


def test_login_wrong_password_logout_and_throttle(
    settings: ResolvedSettings, make_client: Callable[[], TestClient]
) -> None:
    add_user(settings.app_url, "ana", "reviewer")
    client = make_client()
    wrong = login(client, "ana", "not the password")
    assert wrong.status_code == 401
    assert "do not match an account" in wrong.text
    assert login(client, "nobody", PASSWORD).status_code == 401

    page = client.get("/login?next=%2Fdocuments%2Fflagged%2F")
    ok = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "ana",
            "password": PASSWORD,
            "next": "/documents/flagged/",
        },
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/documents/flagged/"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/").status_code == 200

    # Logging out is a form too: without the token it is refused and the session stays.
    assert client.post("/logout").status_code == 403
    assert client.get("/").status_code == 200
    out = client.post("/logout", data={"csrf_token": page_token(client)})
    assert out.status_code == 303 and out.headers["location"] == "/login?out=1"
    assert client.get("/").status_code == 302

    # A login page never sends anyone to another site.
    page = client.get("/login")
    away = client.post(
        "/login",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "ana",
            "password": PASSWORD,
            "next": "//evil.example/",
        },
    )
    assert away.headers["location"] == "/"

    # Wrong passwords from one address block that name from that address for a while, even
    # with the right one (webapp/throttle.py; the spray test is in test_sessions.py).
    other = make_client()
    for _ in range(4):
        assert login(other, "ana", "guess").status_code == 401
    blocked = login(other, "ana")
    assert blocked.status_code == 429 and "Too many failed attempts" in blocked.text
    assert blocked.headers["retry-after"] == "1"


def test_forms_without_the_csrf_token_are_refused(
    settings: ResolvedSettings, make_client: Callable[[], TestClient]
) -> None:
    docs = seed_documents(settings, 30)
    flagged = next(d.result for d in docs if d.intended_reasons)
    add_user(settings.app_url, "ana", "reviewer")
    add_user(settings.app_url, "root", "admin")
    client = make_client()
    # Even the login form: a page of another site cannot log a browser in.
    assert client.post("/login", data={"name": "ana", "password": PASSWORD}).status_code == 403
    login(client, "ana")
    target = f"/documents/{flagged.document_id}/actions"
    fields = {"action": "mark_correct", "expected_version": "1"}
    missing = client.post(target, data=fields)
    assert missing.status_code == 403 and "security token" in missing.text
    wrong = client.post(target, data={**fields, "csrf_token": "guessed"})
    assert wrong.status_code == 403
    # The API with a session cookie wants the token in a header.
    api = f"/api/documents/{flagged.document_id}/actions"
    assert (
        client.post(api, json={"action": "mark_correct", "expected_version": 1}).status_code == 403
    )

    admin = make_client()
    login(admin, "root")
    add = admin.post(
        "/admin/users/", data={"name": "mallory", "role": "admin", "password": "x" * 12}
    )
    assert add.status_code == 403
    with connect(settings.migration_url) as conn:
        assert get_user(conn, "mallory") is None
    assert read_topic(settings, Topics(settings.topic_prefix).review_actions.name) == []


def test_roles(settings: ResolvedSettings, make_client: Callable[[], TestClient]) -> None:
    docs = seed_documents(settings, 30)
    flagged = next(d.result for d in docs if d.intended_reasons)
    for name, role in (("ana", "reviewer"), ("carol", "auditor"), ("root", "admin")):
        add_user(settings.app_url, name, role)
    reviewer, auditor, admin = make_client(), make_client(), make_client()
    login(reviewer, "ana")
    login(auditor, "carol")
    login(admin, "root")

    # A reviewer reaches no admin function and no audit trail.
    for path in ("/admin/users/", "/audit/", "/api/audit"):
        response = reviewer.get(path)
        assert response.status_code == 403, path
    refused = reviewer.get("/admin/users/")
    assert "ana (reviewer)" in refused.text and "manage accounts" in refused.text
    token = page_token(reviewer)
    add = reviewer.post(
        "/admin/users/",
        data={"csrf_token": token, "name": "eve", "role": "admin", "password": "x" * 12},
    )
    assert add.status_code == 403
    assert "Audit trail" not in reviewer.get("/").text

    # An auditor reads everything, the audit trail too, and cannot act.
    audit = auditor.get("/audit/")
    assert audit.status_code == 200 and "Audit trail not verified yet" in audit.text
    assert auditor.get("/audit/reads/").status_code == 200
    assert reviewer.get("/audit/reads/").status_code == 403
    verify = auditor.get(f"/documents/{flagged.document_id}/verify/")
    assert verify.status_code == 200
    assert "read-only access" in verify.text and 'name="action"' not in verify.text
    form = auditor.post(
        f"/documents/{flagged.document_id}/actions",
        data={"csrf_token": page_token(auditor), "action": "mark_correct", "expected_version": 1},
    )
    assert form.status_code == 403 and "may not act on documents" in form.text
    api = auditor.post(
        f"/api/documents/{flagged.document_id}/actions",
        json={"action": "rollback", "expected_version": 1},
        headers={"X-CSRF-Token": page_token(auditor)},
    )
    assert api.status_code == 403
    assert read_topic(settings, Topics(settings.topic_prefix).review_actions.name) == []

    # An admin manages accounts; the new account can log in at once.
    page = admin.get("/admin/users/")
    assert page.status_code == 200
    added = admin.post(
        "/admin/users/",
        data={
            "csrf_token": csrf_token(page.text),
            "name": "dave",
            "role": "auditor",
            "password": "a long passphrase",
        },
    )
    assert added.status_code == 303
    assert "Account dave was added" in admin.get(added.headers["location"]).text
    too_short = admin.post(
        "/admin/users/",
        data={"csrf_token": page_token(admin), "name": "erin", "role": "reviewer", "password": "x"},
    )
    assert too_short.status_code == 422 and "at least 10 characters" in too_short.text
    assert login(make_client(), "dave", "a long passphrase").status_code == 303
