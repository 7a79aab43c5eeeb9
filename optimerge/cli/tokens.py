"""`optimerge users token create|list|revoke`: API tokens that expire and can be revoked."""

from __future__ import annotations

from typing import Annotated

import typer

from optimerge.cli._common import fail, print_json, with_app_database

NOT_MIGRATED = "the database has no users table: run `optimerge migrate` first"

token_app = typer.Typer(help="API tokens: they expire, and can be listed and revoked.")


@token_app.command("create")
def token_create(
    name: Annotated[str, typer.Argument(help="The account the token acts as.")],
    label: Annotated[str, typer.Option(help="What the token is for.")] = "",
    expires_in_days: Annotated[
        int | None,
        typer.Option(min=1, max=3650, help="Lifetime (default: OPTIMERGE_APP_TOKEN_DAYS, 90)."),
    ] = None,
) -> None:
    """Create an API token for an account and print it (once: only its hash is kept).

    Use it as `Authorization: Bearer <token>` on /api/...; its id (for list and revoke) goes
    to stderr."""
    from datetime import UTC, datetime, timedelta

    import psycopg

    from storage.accounts import create_api_token, get_user
    from storage.db import connect
    from webapp.passwords import new_api_token
    from webapp.settings import AppSettings

    days = expires_in_days or AppSettings().token_days
    expires = datetime.now(UTC) + timedelta(days=days)
    _, url = with_app_database()
    token, digest = new_api_token()
    try:
        with connect(url) as conn:
            if get_user(conn, name) is None:
                fail(f"there is no account {name}")
            token_id = create_api_token(conn, name, digest, label, expires)
            conn.commit()
    except psycopg.errors.UndefinedTable:
        fail(NOT_MIGRATED)
    typer.echo(f"token {token_id} for {name}, expires {expires:%Y-%m-%d %H:%M} UTC", err=True)
    typer.echo(token)


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option(help="Only this account's tokens.")] = None,
) -> None:
    """The API tokens as JSON: id, user, label, created, expires, last used, revoked (never
    the tokens themselves)."""
    from datetime import UTC, datetime

    from storage.accounts import list_tokens
    from storage.db import connect

    _, url = with_app_database()
    with connect(url) as conn:
        tokens = list_tokens(conn, user)
    now = datetime.now(UTC)
    print_json(
        [
            {
                "id": t.token_id,
                "user": t.user_name,
                "label": t.label,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "last_used_at": t.last_used_at,
                "revoked_at": t.revoked_at,
                "active": t.revoked_at is None and t.expires_at > now,
            }
            for t in tokens
        ]
    )


@token_app.command("revoke")
def token_revoke(
    token_id: Annotated[
        str | None, typer.Argument(help="The token's id (from `users token list`).")
    ] = None,
    user: Annotated[
        str | None, typer.Option(help="Revoke every live token of this account instead.")
    ] = None,
) -> None:
    """Revoke a token (or all of an account's): it is refused from its next request on."""
    from storage.accounts import revoke_tokens
    from storage.db import connect

    if (token_id is None) == (user is None):
        fail("name one token id, or --user NAME for all of an account's tokens")
    _, url = with_app_database()
    with connect(url) as conn:
        count = revoke_tokens(conn, token_id=token_id, user=user)
    if count == 0:
        fail(f"no live token {'of ' + str(user) if user else str(token_id)}")
    typer.echo(f"revoked {count} token(s)", err=True)
