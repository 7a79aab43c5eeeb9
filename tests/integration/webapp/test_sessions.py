"""Sessions live in PostgreSQL: logout, a password or role change, account removal and token
revocation end access at once, on the next request; idle sessions end; cookies are Secure with
HSTS unless the app serves plain HTTP; only the configured Host names are answered; spraying a
password across many names from one address is slowed, without locking anyone else out."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from config import ResolvedSettings
from storage.accounts import (
    create_api_token,
    remove_user,
    revoke_tokens,
    set_role,
    update_password_hash,
)
from storage.db import connect
from storage.sessions import count_sessions
from webapp import AppSettings, create_app
from webapp.passwords import hash_password, new_api_token

from ._support import PASSWORD, add_user, login, page_token


@dataclass
class FakeClock:
    now: datetime = field(default_factory=lambda: datetime.now(UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(
    app_principal: ResolvedSettings, app_settings: AppSettings, clock: FakeClock
) -> Iterator[Starlette]:
    created = create_app(app_principal, app_settings, clock=clock)
    with TestClient(created):
        yield created


@pytest.fixture
def client_from(app: Starlette) -> Callable[..., TestClient]:
    def make(address: str = "198.51.100.7", base_url: str = "http://testserver") -> TestClient:
        return TestClient(app, base_url=base_url, client=(address, 40000), follow_redirects=False)

    return make


def _token(settings: ResolvedSettings, name: str, expires: datetime) -> tuple[str, str]:
    token, digest = new_api_token()
    with connect(settings.app_url) as conn:
        token_id = create_api_token(conn, name, digest, "tests", expires)
    return token, token_id


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_logout_ends_the_session_even_for_a_copied_cookie(
    settings: ResolvedSettings, client_from: Callable[..., TestClient]
) -> None:
    add_user(settings.app_url, "ana", "reviewer")
    laptop = client_from()
    assert login(laptop, "ana").status_code == 303
    stolen = client_from("203.0.113.66")
    stolen.cookies.set("optimerge_session", laptop.cookies["optimerge_session"])
    assert stolen.get("/").status_code == 200  # a copy of the cookie works while logged in

    laptop.post("/logout", data={"csrf_token": page_token(laptop)})

    assert stolen.get("/").status_code == 302
    assert stolen.get("/api/flagged").status_code == 401
    assert laptop.get("/").status_code == 302
    with connect(settings.app_url) as conn:
        assert count_sessions(conn, "ana") == 0


def test_a_password_change_ends_every_session_of_the_account(
    settings: ResolvedSettings, client_from: Callable[..., TestClient]
) -> None:
    add_user(settings.app_url, "ana", "reviewer")
    add_user(settings.app_url, "bob", "reviewer")
    ana_desk, ana_laptop, bob = client_from(), client_from("192.0.2.1"), client_from()
    for client, name in ((ana_desk, "ana"), (ana_laptop, "ana"), (bob, "bob")):
        assert login(client, name).status_code == 303

    with connect(settings.app_url) as conn:  # what `optimerge users password` does
        update_password_hash(conn, "ana", hash_password("a new passphrase"))

    assert ana_desk.get("/").status_code == 302
    assert ana_laptop.get("/").status_code == 302
    assert bob.get("/").status_code == 200  # someone else's session is not touched
    assert login(client_from(), "ana", "a new passphrase").status_code == 303


def test_a_role_change_ends_the_sessions_and_tokens_act_with_the_new_role(
    settings: ResolvedSettings, client_from: Callable[..., TestClient], clock: FakeClock
) -> None:
    add_user(settings.app_url, "root", "admin")
    browser = client_from()
    login(browser, "root")
    token, _ = _token(settings, "root", clock() + timedelta(days=1))
    api = client_from()
    assert browser.get("/admin/users/").status_code == 200
    assert api.get("/api/audit", headers=_bearer(token)).status_code == 200

    with connect(settings.app_url) as conn:  # `optimerge users role root --role reviewer`
        assert set_role(conn, "root", "reviewer")

    assert browser.get("/admin/users/").status_code == 302  # logged out, not merely demoted
    assert api.get("/api/audit", headers=_bearer(token)).status_code == 403


def test_token_revocation_and_expiry_end_access_at_once(
    settings: ResolvedSettings, client_from: Callable[..., TestClient], clock: FakeClock
) -> None:
    add_user(settings.app_url, "carol", "auditor")
    api = client_from()
    revoked, revoked_id = _token(settings, "carol", clock() + timedelta(days=90))
    expiring, _ = _token(settings, "carol", clock() + timedelta(hours=1))
    assert api.get("/api/flagged", headers=_bearer(revoked)).status_code == 200
    assert api.get("/api/flagged", headers=_bearer(expiring)).status_code == 200

    with connect(settings.app_url) as conn:  # `optimerge users token revoke <id>`
        assert revoke_tokens(conn, token_id=revoked_id) == 1
    assert api.get("/api/flagged", headers=_bearer(revoked)).status_code == 401
    assert api.get("/api/flagged", headers=_bearer(expiring)).status_code == 200

    clock.advance(hours=1, seconds=1)
    assert api.get("/api/flagged", headers=_bearer(expiring)).status_code == 401


def test_removing_an_account_ends_its_sessions_and_tokens(
    settings: ResolvedSettings, client_from: Callable[..., TestClient], clock: FakeClock
) -> None:
    add_user(settings.app_url, "dave", "reviewer")
    browser = client_from()
    login(browser, "dave")
    token, _ = _token(settings, "dave", clock() + timedelta(days=1))
    with connect(settings.app_url) as conn:
        assert remove_user(conn, "dave")
    assert browser.get("/").status_code == 302
    assert client_from().get("/api/flagged", headers=_bearer(token)).status_code == 401


def test_an_idle_session_ends_and_so_does_an_old_one(
    settings: ResolvedSettings,
    client_from: Callable[..., TestClient],
    clock: FakeClock,
    app_settings: AppSettings,
) -> None:
    add_user(settings.app_url, "ana", "reviewer")
    idle = client_from()
    login(idle, "ana")
    clock.advance(seconds=app_settings.session_idle_seconds - 5)
    assert idle.get("/").status_code == 200  # each request restarts the idle clock
    clock.advance(seconds=app_settings.session_idle_seconds + 1)
    assert idle.get("/").status_code == 302

    busy = client_from()
    login(busy, "ana")
    for _ in range(app_settings.session_max_age_seconds // 1200 - 1):
        clock.advance(minutes=20)
        assert busy.get("/widget").status_code == 200
    clock.advance(minutes=21)  # past the 8 h since login, however busy
    assert busy.get("/widget").status_code == 302


def test_cookies_are_secure_with_hsts_unless_started_with_insecure_http(
    settings: ResolvedSettings, app_principal: ResolvedSettings, app_settings: AppSettings
) -> None:
    add_user(settings.app_url, "ana", "reviewer")
    secure = create_app(app_principal, app_settings.model_copy(update={"insecure_http": False}))
    with TestClient(secure, base_url="https://testserver", follow_redirects=False) as client:
        page = client.get("/login")
        assert page.headers["strict-transport-security"].startswith("max-age=")
        done = login(client, "ana")
        assert done.status_code == 303
        assert "secure" in done.headers["set-cookie"].lower()
        assert client.get("/").status_code == 200

    plain = create_app(app_principal, app_settings)  # insecure_http=True, as `make run`
    with TestClient(plain, base_url="http://testserver", follow_redirects=False) as client:
        done = login(client, "ana")
        assert "secure" not in done.headers["set-cookie"].lower()
        assert "strict-transport-security" not in done.headers


def test_a_foreign_host_header_is_refused(client_from: Callable[..., TestClient]) -> None:
    client = client_from()
    refused = client.get("/login", headers={"host": "evil.example"})
    assert refused.status_code == 400 and "Invalid host header" in refused.text
    assert client.get("/api/flagged", headers={"host": "evil.example:8000"}).status_code == 400
    assert client.get("/login", headers={"host": "testserver"}).status_code == 200
    # Probes dial the bare address: /healthz answers any Host, and says only up or down.
    assert client.get("/healthz", headers={"host": "10.1.2.3:8000"}).json() == {"status": "ok"}


def test_spraying_one_password_over_50_names_from_one_address_is_slowed(
    settings: ResolvedSettings, client_from: Callable[..., TestClient], clock: FakeClock
) -> None:
    names = [f"user{i:02d}" for i in range(50)]
    for name in names[::10]:
        add_user(settings.app_url, name, "reviewer")
    add_user(settings.app_url, "ana", "reviewer")
    sprayer = client_from("203.0.113.9")

    answers = [login(sprayer, name, "Winter2026!").status_code for name in names]
    # Eleven guesses, then every further one is refused before its password is even checked.
    assert answers[:11] == [401] * 11
    assert set(answers[11:]) == {429}

    # A sprayer who waits out every block needs over half an hour for the 50 names.
    waited = timedelta()
    for name in names[11:]:
        while (answer := login(sprayer, name, "Winter2026!")).status_code == 429:
            pause = timedelta(seconds=int(answer.headers["retry-after"]))
            clock.advance(seconds=pause.total_seconds())
            waited += pause
        assert answer.status_code == 401
    assert waited > timedelta(minutes=30), waited

    # Meanwhile a reviewer elsewhere is not locked out, by the spray or by the stranger's
    # failures on her own name.
    for _ in range(6):
        login(sprayer, "ana", "guess")
    assert login(client_from("198.51.100.20"), "ana", PASSWORD).status_code == 303
