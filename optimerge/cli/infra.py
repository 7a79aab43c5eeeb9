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
    brokers: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Kafka brokers, each its own process, port and data dir; 3 or more: a KRaft "
            "quorum of 3, topics with 3 replicas and min.insync.replicas=2. Default: as many "
            "as the state dir's cluster has, else 1.",
        ),
    ] = None,
    postgres_standby: Annotated[
        bool | None,
        typer.Option(
            "--postgres-standby/--no-postgres-standby",
            help="PostgreSQL as a primary with a synchronous streaming standby, failed over by "
            "Patroni (etcd as its store); DATABASE_URL then lists both servers with "
            "target_session_attrs=read-write. Default: as the state dir has it, else one server.",
        ),
    ] = None,
) -> None:
    """Start Kafka and PostgreSQL (reusing running ones), create topics, migrate the schema.

    Prints `export KAFKA_BOOTSTRAP_SERVERS=...`, `export DATABASE_URL=...` (the worker's role),
    `OPTIMERGE_APP_DATABASE_URL`, `OPTIMERGE_MIGRATION_DATABASE_URL` and
    `OPTIMERGE_AUDIT__KEY_FILE` lines (and, on a cluster, `OPTIMERGE_REPLICATION_FACTOR`):
    `eval "$(optimerge infra up)"`. Each database role has its own password, and the audit key
    its own file, in the state dir (0600).
    The number of brokers and the standby are fixed when first started: later `up`, `status`,
    `env` and `down` find them in the state dir."""
    import os

    from config import load_settings
    from optimerge.infra._process import InfraError
    from optimerge.infra.bootstrap import bring_up

    os.umask(0o077)  # what it writes to the state dir (configs, secrets, logs): ours only
    settings = load_settings()
    if partitions is not None:
        settings = settings.with_overrides(partitions=partitions)
    infra_changes = {"kafka_brokers": brokers, "postgres_standby": postgres_standby}
    if changes := {k: v for k, v in infra_changes.items() if v is not None}:
        settings = settings.with_overrides(infra=settings.infra.model_copy(update=changes))
    try:
        endpoints = bring_up(settings)
    except InfraError as exc:
        fail(str(exc))
    for line in endpoints.export_lines(topic_prefix=settings.topic_prefix):
        typer.echo(line)


@infra_app.command("down")
def down() -> None:
    """Stop the workers started by `optimerge run`, then the local Kafka broker(s) and
    PostgreSQL (with Patroni and etcd when there is a standby)."""
    from config import load_settings
    from optimerge.infra.local import down as infra_down
    from optimerge.infra.local_run import stop_workers

    settings = load_settings()
    stop_workers(settings)
    infra_down(settings)


@infra_app.command("status")
def status() -> None:
    """Say what runs: each Kafka broker, PostgreSQL server and worker; for a Kafka cluster also
    the KRaft quorum and under-replicated partitions, for a standby Patroni's roles and lag
    (exit 1 if any of our processes is down)."""
    from config import load_settings
    from optimerge.infra.local import report
    from optimerge.infra.local import status as infra_status
    from optimerge.infra.local_run import running_workers

    settings = load_settings()
    services = infra_status(settings)
    for service in services:
        typer.echo(str(service))
    for line in report(settings):
        typer.echo(line)
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
def env(
    principal: Annotated[
        str,
        typer.Option(
            help="Whose client settings: operator (the default: your shell), app, worker, "
            "extractor, checkpointer or admin. Passwords and keys stay in files; only their "
            "paths print.",
        ),
    ] = "operator",
) -> None:
    """Print the export lines for the running infrastructure again: the endpoints, and for the
    local Kafka the principal's SASL settings and signing keys, then kcat's flags as comments."""
    from config import load_settings
    from optimerge.infra._process import InfraError
    from optimerge.infra.local import env as infra_env
    from optimerge.infra.principals import UnknownPrincipalError, check_principal

    try:
        check_principal(principal)
    except UnknownPrincipalError as exc:
        fail(str(exc), code=2)
    settings = load_settings()
    try:
        endpoints = infra_env(settings)
    except InfraError as exc:
        fail(str(exc))
    for line in endpoints.export_lines(principal, settings.topic_prefix):
        typer.echo(line)


@infra_app.command("acls")
def acls(
    apply: Annotated[
        bool, typer.Option("--apply", help="Create them (as the admin principal configured).")
    ] = False,
) -> None:
    """The ACLs of every principal on this deployment's topics (OPTIMERGE_TOPIC_PREFIX) and
    consumer group: printed, or created with --apply on a Kafka of your own (`infra up` does
    it for the local one). Users themselves are your Kafka's to create (SCRAM)."""
    from optimerge.cli._common import with_kafka
    from streams.acls import AclError, apply_grants, pipeline_grants, reader_grants
    from streams.topics import Topics

    settings, kafka = with_kafka("admin")
    grants = [
        *pipeline_grants(
            Topics(settings.topic_prefix), f"{settings.topic_prefix}{settings.app_id}"
        ),
        *reader_grants(),
    ]
    if not apply:
        for grant in grants:
            pattern = "prefixed" if grant.prefixed else "literal"
            operations = ",".join(grant.operations)
            typer.echo(
                f"User:{grant.principal}\t{grant.resource}\t{pattern}\t{grant.name}\t{operations}"
            )
        return
    try:
        count = apply_grants(kafka, grants)
    except AclError as exc:
        fail(str(exc))
    typer.echo(f"{count} ACL bindings in place", err=True)
