"""`optimerge infra up|down|status|env`: the local Kafka (KRaft) and PostgreSQL processes."""

from __future__ import annotations

from typing import Annotated

import typer

from optimerge.cli._common import fail

infra_app = typer.Typer(
    help="Local Kafka (KRaft, jars from Maven Central) and PostgreSQL, or the servers in "
    "KAFKA_BOOTSTRAP_SERVERS / DATABASE_URL.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(infra_app, name="infra")


@infra_app.command("up")
def up(
    partitions: Annotated[
        int | None,
        typer.Option(help="Partitions of each topic (default: OPTIMERGE_PARTITIONS or 12)."),
    ] = None,
) -> None:
    """Start Kafka and PostgreSQL (reusing running ones), create topics, migrate the schema.

    Prints `export KAFKA_BOOTSTRAP_SERVERS=...` and `export DATABASE_URL=...` lines:
    `eval "$(optimerge infra up)"`."""
    from config import load_settings
    from optimerge.infra._process import InfraError
    from optimerge.infra.bootstrap import bring_up

    settings = load_settings()
    if partitions is not None:
        settings = settings.with_overrides(partitions=partitions)
    try:
        endpoints = bring_up(settings)
    except InfraError as exc:
        fail(str(exc))
    for line in endpoints.export_lines():
        typer.echo(line)


@infra_app.command("down")
def down() -> None:
    """Stop the workers started by `optimerge run`, then the local Kafka and PostgreSQL."""
    from config import load_settings
    from optimerge.infra.local import down as infra_down
    from optimerge.infra.local_run import stop_workers

    settings = load_settings()
    stop_workers(settings)
    infra_down(settings)


@infra_app.command("status")
def status() -> None:
    """Say what runs: the local Kafka, PostgreSQL and workers (exit 1 if Kafka or PG is down)."""
    from config import load_settings
    from optimerge.infra.local import status as infra_status
    from optimerge.infra.local_run import running_workers

    settings = load_settings()
    services = infra_status(settings)
    for service in services:
        typer.echo(str(service))
    workers = running_workers(settings)
    typer.echo(
        f"{'workers':<10} {len(workers)} running"
        + (f" (pids {', '.join(str(p) for p, _ in workers)})" if workers else "")
    )
    if settings.kafka_bootstrap_servers:
        typer.echo(f"KAFKA_BOOTSTRAP_SERVERS is set: {settings.kafka_bootstrap_servers}")
    if settings.database_url:
        typer.echo("DATABASE_URL is set: the local PostgreSQL is not used")
    if not all(s.running for s in services):
        raise typer.Exit(1)


@infra_app.command("env")
def env() -> None:
    """Print the export lines for the running infrastructure again."""
    from config import load_settings
    from optimerge.infra._process import InfraError
    from optimerge.infra.local import env as infra_env

    try:
        endpoints = infra_env(load_settings())
    except InfraError as exc:
        fail(str(exc))
    for line in endpoints.export_lines():
        typer.echo(line)
