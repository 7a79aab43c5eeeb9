"""Commands that run or check the system: migrate, worker, audit verify."""

from __future__ import annotations

from typing import Annotated

import typer

from optimerge.cli._common import fail, print_json, resolved, with_database

audit_app = typer.Typer(help="The append-only, hash-chained audit trail.")


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
    app.command("worker")(worker)
    app.add_typer(audit_app, name="audit")


def migrate() -> None:
    """Apply pending database migrations (yoyo-migrations)."""
    from storage.migrate import apply_migrations

    _, url = with_database()
    applied = apply_migrations(url)
    typer.echo(f"applied {len(applied)} migration(s): {', '.join(applied) or 'none pending'}")


def worker(
    loglevel: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve Prometheus metrics on this port (0 = any free).")
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(
            help="Address of the metrics port: loopback unless the monitoring network needs "
            "another (e.g. 0.0.0.0 in a pod, with a NetworkPolicy).",
        ),
    ] = "127.0.0.1",
    instance_id: Annotated[
        str | None,
        typer.Option(
            help="A stable name for this worker (a pod name, say; letters, digits, . _ -): "
            "static group membership. Restarted under the same id, it keeps its partitions "
            "without a rebalance of the group; two live workers must never share one. Also "
            "OPTIMERGE_WORKER_INSTANCE_ID. Without one, each start and each death rebalances.",
        ),
    ] = None,
) -> None:
    """Run a merge worker (faust-streaming). Start more of them to share the partitions.

    Stops on SIGTERM or SIGINT: finishes or abandons the batch in flight, commits what is
    written, exits 0. A silent worker loses its partitions after
    OPTIMERGE_WORKER_SESSION_TIMEOUT_SECONDS (default 10)."""
    from pydantic import ValidationError

    from agents.runtime import WorkerStartupError, run_worker

    settings = resolved("worker")
    if instance_id is not None:
        try:
            settings = type(settings).model_validate(
                {**settings.model_dump(), "worker_instance_id": instance_id}
            )
        except ValidationError:
            fail(
                f"--instance-id {instance_id!r}: use 1-249 letters, digits, '.', '_' or '-'",
                code=2,
            )
    try:
        code = run_worker(
            settings, loglevel=loglevel, metrics_port=metrics_port, metrics_host=metrics_host
        )
    except WorkerStartupError as exc:
        fail(str(exc))
    raise typer.Exit(code)


@audit_app.command("verify")
def audit_verify(
    patient: Annotated[str | None, typer.Option(help="Check one patient's chain only.")] = None,
) -> None:
    """Recompute every patient's hash chain; exit 1 and name the entry if one was altered."""
    from pipeline.audit_check import verify_audit_chains
    from storage.db import connect

    _, url = with_database()
    with connect(url) as conn:
        report = verify_audit_chains(conn, patient)
    print_json(
        {
            "ok": report.ok,
            "patients": report.patients,
            "entries": report.entries,
            "breaks": [
                {"patient_id": b.patient_id, "seq": b.seq, "reason": b.reason}
                for b in report.breaks
            ],
        }
    )
    if not report.ok:
        raise typer.Exit(1)
