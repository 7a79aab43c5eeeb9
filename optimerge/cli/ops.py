"""Commands that run or check the system: migrate, worker, audit verify|checkpoint."""

from __future__ import annotations

from typing import Annotated

import typer

from optimerge.cli._common import (
    audit_keyring,
    fail,
    print_json,
    resolved,
    with_migration_database,
)

audit_app = typer.Typer(help="The append-only audit trail: MAC chains and signed checkpoints.")


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)
    app.command("worker")(worker)
    app.add_typer(audit_app, name="audit")


def migrate() -> None:
    """Apply pending database migrations (yoyo-migrations), as the schema owner
    (OPTIMERGE_MIGRATION_DATABASE_URL, else DATABASE_URL)."""
    from storage.migrate import apply_migrations

    _, url = with_migration_database()
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
    full: Annotated[
        bool,
        typer.Option(
            "--full",
            help="Recompute every entry from the first, not only those since each patient's "
            "newest checkpoint.",
        ),
    ] = False,
) -> None:
    """Check the audit chains against the audit key and the newest signed checkpoint on
    audit.checkpoints, in one snapshot; print JSON, exit 1 naming the first bad entry of each
    broken chain (altered, forged, missing, or truncated since a checkpoint)."""
    import time

    from domain.audit_verify import report_json
    from pipeline.audit_check import load_checkpoints, verify_audit
    from storage.db import connect

    settings = resolved()
    keyring = audit_keyring(settings)
    started = time.perf_counter()
    checkpoints = load_checkpoints(settings, keyring)
    with connect(settings.app_url) as conn:
        report = verify_audit(conn, keyring, checkpoints, full=full, patient_id=patient)
    print_json(
        {**report_json(report), "elapsed_ms": round((time.perf_counter() - started) * 1000, 1)}
    )
    if not report.ok:
        raise typer.Exit(1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    once: Annotated[
        bool, typer.Option("--once", help="One run, then exit (for cron); exit 1 on a break.")
    ] = False,
    full: Annotated[bool, typer.Option("--full", help="With --once: a full run.")] = False,
) -> None:
    """Verify every chain and sign each intact head to audit.checkpoints, every
    OPTIMERGE_AUDIT__CHECKPOINT_INTERVAL_SECONDS (default 60; a full run at start and daily);
    each run is recorded, signed, for the audit page. Stops on SIGTERM or SIGINT (exit 0)."""
    import logging
    import signal
    import threading

    from optimerge.infra.principals import CHECKPOINTER
    from pipeline.audit_checkpointer import AuditCheckpointer
    from pipeline.log_redaction import install_log_redaction

    install_log_redaction()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = resolved(CHECKPOINTER)  # locally; its own principal from the env otherwise
    checkpointer = AuditCheckpointer(settings, audit_keyring(settings))
    if once:
        result = checkpointer.run_once(full=full)
        if not result.report.ok:
            raise typer.Exit(1)
        return
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    checkpointer.run_forever(stop)
