"""`optimerge users add|password|list|token` and `optimerge app`, through the CLI's register()."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx2 as httpx
import pytest
import typer
from starlette.testclient import TestClient
from typer.testing import CliRunner

from config import ResolvedSettings
from optimerge.cli.app import register
from optimerge.infra._ports import free_ports
from tests.cli_runner import cli_env

from ._support import login


@pytest.fixture
def cli(settings: ResolvedSettings, monkeypatch: pytest.MonkeyPatch) -> Callable[..., object]:
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("OPTIMERGE_APP_DATABASE_URL", settings.app_url)
    app = typer.Typer()
    register(app)
    runner = CliRunner()

    def run(*args: str, stdin: str | None = None):
        return runner.invoke(app, list(args), input=stdin)

    return run


def test_users_add_list_and_token(cli, make_client: Callable[[], TestClient]) -> None:
    added = cli(
        "users", "add", "ana", "--role", "reviewer", "--password-stdin", stdin="a long passphrase\n"
    )
    assert added.exit_code == 0, added.output
    again = cli(
        "users", "add", "ana", "--role", "admin", "--password-stdin", stdin="a long passphrase\n"
    )
    assert again.exit_code == 1 and "already exists" in again.output
    short = cli("users", "add", "bob", "--role", "reviewer", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1 and "at least 10 characters" in short.output
    role = cli(
        "users", "add", "bob", "--role", "root", "--password-stdin", stdin="a long passphrase\n"
    )
    assert role.exit_code == 1 and "unknown role" in role.output
    prompted = cli(
        "users", "add", "carol", "--role", "auditor", stdin="a long passphrase\na long passphrase\n"
    )
    assert prompted.exit_code == 0, prompted.output

    listed = cli("users", "list")
    assert [(u["name"], u["role"]) for u in json.loads(listed.stdout)] == [
        ("ana", "reviewer"),
        ("carol", "auditor"),
    ]
    assert "argon2" not in listed.output

    token = cli("users", "token", "create", "carol").stdout.strip()
    assert token.startswith("omt_")
    client = make_client()
    assert (
        client.get("/api/flagged", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert login(make_client(), "ana", "a long passphrase").status_code == 303
    assert cli("users", "token", "create", "nobody").exit_code == 1

    changed = cli("users", "password", "ana", "--password-stdin", stdin="another passphrase\n")
    assert changed.exit_code == 0, changed.output
    assert login(make_client(), "ana", "a long passphrase").status_code == 401
    assert login(make_client(), "ana", "another passphrase").status_code == 303
    assert cli("users", "password", "nobody", "--password-stdin", stdin="x" * 12).exit_code == 1


def test_tokens_are_listed_and_revoked_roles_changed_accounts_removed(
    cli, make_client: Callable[[], TestClient]
) -> None:
    for name in ("ana", "root"):
        assert (
            cli(
                "users",
                "add",
                name,
                "--role",
                "admin",
                "--password-stdin",
                stdin="a long passphrase\n",
            ).exit_code
            == 0
        )
    made = cli("users", "token", "create", "ana", "--label", "ci", "--expires-in-days", "7")
    token = made.stdout.strip()
    api = make_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert api.get("/api/audit", headers=headers).status_code == 200

    [listed] = json.loads(cli("users", "token", "list").stdout)
    assert (listed["user"], listed["label"], listed["active"]) == ("ana", "ci", True)
    assert token not in json.dumps(listed) and listed["id"] in made.stderr

    browser = make_client()
    assert login(browser, "ana", "a long passphrase").status_code == 303
    assert cli("users", "role", "ana", "--role", "auditor").exit_code == 0
    assert browser.get("/").status_code == 302  # the session ended with the role change
    assert api.get("/admin/users/", headers=headers).status_code == 403  # the token is demoted

    assert cli("users", "token", "revoke", listed["id"]).exit_code == 0
    assert api.get("/api/audit", headers=headers).status_code == 401
    [after] = json.loads(cli("users", "token", "list", "--user", "ana").stdout)
    assert after["active"] is False and after["revoked_at"]
    assert cli("users", "token", "revoke", listed["id"]).exit_code == 1  # nothing live left

    root = make_client()
    login(root, "root", "a long passphrase")
    assert cli("users", "remove", "root").exit_code == 0
    assert root.get("/").status_code == 302
    assert cli("users", "remove", "root").exit_code == 1


def test_app_command_is_registered(cli) -> None:
    shown = cli("app", "--help")
    assert shown.exit_code == 0
    assert "--host" in shown.output and "--port" in shown.output


SCRIPT = "; ".join(
    [
        "import typer",
        "from optimerge.cli.app import register",
        "app = typer.Typer()",
        "register(app)",
        "app()",
    ]
)


def _app_env(app_principal: ResolvedSettings, state_dir: Path) -> dict[str, str]:
    env = {**os.environ, **cli_env(app_principal), "OPTIMERGE_INFRA__STATE_DIR": str(state_dir)}
    env.pop("OPTIMERGE_APP_SECRET_KEY", None)
    return env


def test_optimerge_app_serves_and_stops_on_sigterm(
    app_principal: ResolvedSettings, tmp_path: Path
) -> None:
    """The real command in its own process: uvicorn on the given port, the session key made in
    the state dir, /healthz up, pages behind the login, a clean stop on SIGTERM."""
    [port] = free_ports(1)
    env = _app_env(app_principal, tmp_path)
    log = (tmp_path / "app.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, "app", "--port", str(port), "--insecure-http"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        health = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                health = httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert health is not None, (tmp_path / "app.log").read_text()
        assert health.json() == {"status": "ok"}
        assert httpx.get(f"{base}/", timeout=5).status_code == 302
        key = tmp_path / "app-secret-key"
        assert key.exists() and stat.S_IMODE(key.stat().st_mode) == 0o600
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        log.close()


def test_a_1_byte_session_key_or_insecure_http_off_loopback_refuses_to_start(
    app_principal: ResolvedSettings, tmp_path: Path
) -> None:
    env = {**_app_env(app_principal, tmp_path), "OPTIMERGE_APP_SECRET_KEY": "x"}
    weak = subprocess.run(
        [sys.executable, "-c", SCRIPT, "app", "--port", "1", "--insecure-http"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert weak.returncode == 1
    assert "session key (OPTIMERGE_APP_SECRET_KEY) has 1 bytes" in weak.stderr
    assert "at least 32 random bytes" in weak.stderr

    (tmp_path / "app-secret-key").write_text("")  # an empty key file is no key
    empty = subprocess.run(
        [sys.executable, "-c", SCRIPT, "app", "--port", "1", "--insecure-http"],
        env=_app_env(app_principal, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert empty.returncode == 1 and "has 0 bytes" in empty.stderr

    exposed = subprocess.run(
        [sys.executable, "-c", SCRIPT, "app", "--host", "0.0.0.0", "--insecure-http"],
        env=_app_env(app_principal, tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert exposed.returncode == 1 and "127.0.0.1 only" in exposed.stderr
