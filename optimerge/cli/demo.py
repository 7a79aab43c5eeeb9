"""`optimerge demo` and `optimerge run`: a realistic feed, and the whole system locally."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from optimerge.cli._common import fail, resolved

if TYPE_CHECKING:
    from optimerge.infra.local import Endpoints


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
    app.command("run")(run)


def demo(
    count: Annotated[int, typer.Option(help="How many documents to publish.")] = 500,
    seed: Annotated[int, typer.Option(help="Same seed, same feed.")] = 7,
    rate: Annotated[
        float | None, typer.Option(help="Documents per second (default: as fast as possible).")
    ] = None,
) -> None:
    """Publish a realistic feed built from the Synthea sample (imports its patients first).

    About 10 % are built to be flagged: low confidence, fallback model, few resources, name
    or birth date not matching, unknown patient. Benign name variants are not flagged."""
    from optimerge.demo.publish import import_demo_patients, publish_demo

    settings = resolved("extractor")
    imported = import_demo_patients(settings.database_url)
    typer.echo(f"imported {imported} patients from the Synthea sample")
    publish_demo(settings, count, seed=seed, rate=rate, log=typer.echo)


def run(
    workers: Annotated[int, typer.Option(help="Worker processes (one consumer group).")] = 2,
    count: Annotated[int, typer.Option(help="Documents in the demo feed.")] = 300,
    app_port: Annotated[int, typer.Option(help="Port of the reviewer app.")] = 8000,
) -> None:
    """Everything locally: Kafka, PostgreSQL, topics, schema, workers, the reviewer app, the
    audit checkpointer and a demo feed.

    Leaves it all running; `optimerge infra down` (or `make stop`) stops it."""
    import os

    from config import load_settings
    from optimerge.demo.publish import ensure_demo_users, import_demo_patients, publish_demo
    from optimerge.infra import InfraError
    from optimerge.infra.bootstrap import bring_up
    from optimerge.infra.local_run import start_app, start_checkpointer, start_workers

    os.umask(0o077)  # the state dir's files (logs, secrets) are this user's only
    loaded = load_settings()
    try:
        endpoints = bring_up(loaded)
    except InfraError as exc:
        fail(str(exc))
    if endpoints.audit_key_file is not None:
        audit = loaded.audit.model_copy(update={"key_file": endpoints.audit_key_file})
        loaded = loaded.with_overrides(audit=audit)
    settings = loaded.resolved(
        kafka_bootstrap_servers=endpoints.kafka_bootstrap_servers,
        database_url=endpoints.database_url,
        app_database_url=endpoints.app_database_url,
        migration_database_url=endpoints.migration_database_url,
    )
    # Each process with its own database role and Kafka principal
    # (docs/contract.md#database-roles, docs/contract.md#kafka-principals).
    logs = start_workers(settings, workers, endpoints.process_env("worker"))
    logs.append(start_app(settings, app_port, endpoints.process_env("app")))
    logs.append(start_checkpointer(settings, endpoints.process_env("checkpointer")))
    passwords = ensure_demo_users(settings.app_url, settings.infra.state_dir)
    imported = import_demo_patients(settings.database_url)
    typer.echo(f"imported {imported} patients from the Synthea sample")
    # The feed comes in as an extractor would send it: that principal may do nothing else.
    publish_demo(settings, count, log=typer.echo, kafka=endpoints.endpoint("extractor"))
    _where_to_look(endpoints, logs, app_port, passwords)


def _where_to_look(
    endpoints: Endpoints, logs: list[Path], app_port: int, passwords: dict[str, str]
) -> None:
    from optimerge.demo import load_sample
    from optimerge.infra.principals import EXTRACTOR, kcat_flags
    from streams.topics import Topics

    patient = load_sample().patients[0]["id"]
    topic = Topics().extraction_results.name
    bootstrap = endpoints.kafka_bootstrap_servers
    secrets = endpoints.secrets
    flags = (
        kcat_flags(bootstrap, secrets.kcat_properties(EXTRACTOR))
        if secrets is not None
        else f"-b {bootstrap}"
    )
    logins = ", ".join(f"{name} / {password}" for name, password in passwords.items())
    typer.echo(
        f"""
optimerge is running. Where to look:
  http://127.0.0.1:{app_port}/   reviewer app: log in as {logins}
  eval "$(.venv/bin/optimerge infra env)"         # point your shell at it (as the operator)
  .venv/bin/optimerge patient bundle {patient}   # a merged record (FHIR Bundle)
  .venv/bin/optimerge document show demo-7-000000
  .venv/bin/optimerge audit verify
  .venv/bin/optimerge infra status
  logs: {" ".join(str(p) for p in logs)}
Publish your own document (kcat as the extractor principal, keyed by patient id):
  echo '{patient}<TAB><ExtractionResult JSON>' | kcat {flags} -P -t {topic} -K '\\t'
Stop everything: make stop  (or .venv/bin/optimerge infra down)"""
    )
