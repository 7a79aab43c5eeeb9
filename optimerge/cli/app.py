"""`optimerge app` (the reviewer web app) and `optimerge users add|password|list|token`."""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import Annotated

import typer

from optimerge.cli._common import fail, print_json, resolved, with_app_database

users_app = typer.Typer(help="Accounts of the reviewer app (reviewer, auditor, admin, operator).")

NOT_MIGRATED = "the database has no users table: run `optimerge migrate` first"


def register(app: typer.Typer) -> None:
    app.command("app")(serve_app)
    app.add_typer(users_app, name="users")


def serve_app(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Serve the reviewer app: flagged queue, verify page, actions, audit trail, JSON API.

    Settings: OPTIMERGE_APP_* (see webapp/settings.py); the session key is kept in the state
    dir unless OPTIMERGE_APP_SECRET_KEY is set."""
    import uvicorn

    from config import MissingAuditKeyError
    from pipeline.log_redaction import install_log_redaction
    from webapp import AppSettings, create_app
    from webapp.access_log import log_config

    # Error texts and queries can hold patient data: never into the log (docs/contract.md).
    install_log_redaction()
    settings = resolved()
    try:
        app = create_app(settings, AppSettings())
    except MissingAuditKeyError as exc:
        fail(str(exc))
    typer.echo(f"optimerge app on http://{host}:{port}/ (Ctrl-C stops it)", err=True)
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


@users_app.command("token")
def users_token(
    name: Annotated[str, typer.Argument(help="The account the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
) -> None:
    """Create an API token for an account and print it (once: only its hash is kept).

    Use it as `Authorization: Bearer <token>` on /api/..."""
    import psycopg

    from storage.accounts import create_api_token, get_user
    from storage.db import connect
    from webapp.passwords import new_api_token

    _, url = with_app_database()
    token, digest = new_api_token()
    try:
        with connect(url) as conn:
            if get_user(conn, name) is None:
                fail(f"there is no account {name}")
            create_api_token(conn, name, digest, label)
            conn.commit()
    except psycopg.errors.UndefinedTable:
        fail(NOT_MIGRATED)
    typer.echo(token)
