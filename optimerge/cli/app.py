"""`optimerge app` (the reviewer web app) and `optimerge users add|password|role|remove|list`
(tokens: optimerge/cli/tokens.py)."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Annotated

import typer

from optimerge.cli._common import fail, print_json, resolved, with_app_database
from optimerge.cli.tokens import NOT_MIGRATED, token_app

users_app = typer.Typer(help="Accounts of the reviewer app (reviewer, auditor, admin, operator).")
users_app.add_typer(token_app, name="token")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def register(app: typer.Typer) -> None:
    app.command("app")(serve_app)
    app.add_typer(users_app, name="users")


def serve_app(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    insecure_http: Annotated[
        bool,
        typer.Option(
            "--insecure-http",
            help="Serve plain HTTP: cookies without `Secure`, no HSTS. Loopback addresses only "
            "(what `make run` does); behind HTTPS, leave it off.",
        ),
    ] = False,
) -> None:
    """Serve the reviewer app: flagged queue, verify page, actions, audit trail, JSON API.

    Settings: OPTIMERGE_APP_* (see webapp/settings.py); the session key and the /metrics scrape
    token are kept in the state dir unless OPTIMERGE_APP_SECRET_KEY / _METRICS_TOKEN are set.
    Review actions are signed with OPTIMERGE_SIGNING__KEY_FILE."""
    import uvicorn

    from config import MissingAuditKeyError, load_settings
    from pipeline.log_redaction import install_log_redaction
    from webapp import AppSettings, create_app
    from webapp.access_log import log_config
    from webapp.settings import AppConfigError

    # Error texts and queries can hold patient data: never into the log (docs/contract.md).
    install_log_redaction()
    app_settings = AppSettings()
    if insecure_http:
        app_settings = app_settings.model_copy(update={"insecure_http": True})
    if app_settings.insecure_http and host not in LOOPBACK:
        fail(
            f"--insecure-http sends session cookies in clear: it serves 127.0.0.1 only, not "
            f"{host}. Put the app behind HTTPS and start it without --insecure-http"
        )
    settings = resolved("app")
    if app_settings.console_kafka is None and not load_settings().kafka_bootstrap_servers:
        # The local infra: its operator console acts as the local operator principal.
        from optimerge.infra.local import Endpoints

        local = Endpoints("", "", state_dir=settings.infra.state_dir).principal("operator")
        if local is not None:
            app_settings = app_settings.model_copy(update={"console_kafka": local.kafka})
    try:
        app = create_app(settings, app_settings)
    except (AppConfigError, MissingAuditKeyError) as exc:
        fail(str(exc))
    scheme = "http" if app_settings.insecure_http else "https (behind your TLS proxy)"
    typer.echo(f"optimerge app on {scheme} at {host}:{port} (Ctrl-C stops it)", err=True)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again for whoever handled
    # it before: that is us, and a requested stop is a success (exit 0, like the worker).
    signal.signal(signal.SIGTERM, _exit_zero)
    uvicorn.run(
        app,
        host=host,
        port=port,
        proxy_headers=False,
        server_header=False,
        # Open event streams must not hold a shutdown for long.
        timeout_graceful_shutdown=3,
        log_level="info",
        log_config=log_config(),
    )


def _exit_zero(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def _read_password(password_stdin: bool) -> str:
    if password_stdin:
        line = sys.stdin.readline()
        return line.rstrip("\r\n")
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return password


@users_app.command("add")
def users_add(
    name: Annotated[str, typer.Argument(help="Account name (letters, digits, . _ @ -).")],
    role: Annotated[str, typer.Option(help="reviewer, auditor, admin or operator.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
) -> None:
    """Add an account; the password is prompted for (twice) unless --password-stdin."""
    import psycopg

    from storage.accounts import UserExistsError, create_user
    from storage.db import connect
    from webapp.passwords import check_name, check_password, hash_password
    from webapp.roles import parse_role

    try:
        chosen = parse_role(role)
    except ValueError as exc:
        fail(str(exc))
    if problem := check_name(name):
        fail(problem)
    password = _read_password(password_stdin)
    if problem := check_password(password):
        fail(problem)
    _, url = with_app_database()
    try:
        with connect(url) as conn:
            create_user(conn, name, chosen.value, hash_password(password))
    except UserExistsError as exc:
        fail(str(exc))
    except psycopg.errors.UndefinedTable:
        fail(NOT_MIGRATED)
    typer.echo(f"added {chosen.value} {name}", err=True)


@users_app.command("password")
def users_password(
    name: Annotated[str, typer.Argument(help="The account whose password is set.")],
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from stdin (scripts).")
    ] = False,
) -> None:
    """Set a new password for an account (prompted for twice unless --password-stdin)."""
    import psycopg

    from storage.accounts import get_user, update_password_hash
    from storage.db import connect
    from webapp.passwords import check_password, hash_password

    password = _read_password(password_stdin)
    if problem := check_password(password):
        fail(problem)
    _, url = with_app_database()
    try:
        with connect(url) as conn:
            if get_user(conn, name) is None:
                fail(f"there is no account {name}")
            update_password_hash(conn, name, hash_password(password))
    except psycopg.errors.UndefinedTable:
        fail(NOT_MIGRATED)
    typer.echo(f"new password set for {name}", err=True)


@users_app.command("list")
def users_list() -> None:
    """The accounts as JSON (name, role, created_at); never the password hashes."""
    import psycopg

    from storage.accounts import list_users
    from storage.db import connect

    _, url = with_app_database()
    try:
        with connect(url) as conn:
            users = list_users(conn)
    except psycopg.errors.UndefinedTable:
        fail(NOT_MIGRATED)
    print_json([{"name": u.name, "role": u.role, "created_at": u.created_at} for u in users])


@users_app.command("role")
def users_role(
    name: Annotated[str, typer.Argument(help="The account whose role changes.")],
    role: Annotated[str, typer.Option(help="reviewer, auditor, admin or operator.")],
) -> None:
    """Change an account's role; its open sessions end at once (its tokens act with the new
    role from their next request)."""
    from storage.accounts import set_role
    from storage.db import connect
    from webapp.roles import parse_role

    try:
        chosen = parse_role(role)
    except ValueError as exc:
        fail(str(exc))
    _, url = with_app_database()
    with connect(url) as conn:
        if not set_role(conn, name, chosen.value):
            fail(f"there is no account {name}")
    typer.echo(f"{name} is now {chosen.value}; their sessions ended", err=True)


@users_app.command("remove")
def users_remove(
    name: Annotated[str, typer.Argument(help="The account to remove.")],
) -> None:
    """Remove an account: its sessions and API tokens end with it."""
    from storage.accounts import remove_user
    from storage.db import connect

    _, url = with_app_database()
    with connect(url) as conn:
        if not remove_user(conn, name):
            fail(f"there is no account {name}")
    typer.echo(f"removed {name}, with their sessions and tokens", err=True)
