"""Running one merge worker process: checks, the faust worker, and a clean stop on signals."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from typing import Any

import faust

from agents.heartbeat import register_heartbeat
from agents.merge_agent import register_merge_agent
from agents.prometheus import serve
from agents.worker import MergeWorker
from config import MissingAuditKeyError, ResolvedSettings
from pipeline.collector import settle_collector
from pipeline.log_redaction import install_log_redaction
from pipeline.signatures import SigningConfigError, load_keyring
from storage.migrate import pending_migrations
from streams.admin import ensure_topics
from streams.app import create_app
from streams.topics import Topics

log = logging.getLogger(__name__)


class WorkerStartupError(Exception):
    pass


# A worker stops within 10 s of SIGTERM/SIGINT, whatever state Kafka is in
# (docs/contract.md#commands).
SHUTDOWN_DEADLINE_SECONDS = 8.0


class _Worker(faust.Worker):
    """faust's worker, with a deadline on shutdown: stopping can hang forever while the broker
    is unreachable (aiokafka retries its fetches), and a worker must never ignore SIGTERM.

    Without faust's terminal spinner: to make it spin on every record, faust sets the root logger
    to DEBUG, so each debug call of aiokafka, mode and faust built and handled a record the
    handlers then dropped (2.9 % of the workers' Python time at 650 documents/s, most of it in
    aiokafka's fetcher)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spinner = None

    def _on_sigint(self) -> None:
        _arm_shutdown_deadline()
        super()._on_sigint()

    def _on_sigterm(self) -> None:
        _arm_shutdown_deadline()
        super()._on_sigterm()


def _arm_shutdown_deadline(seconds: float = SHUTDOWN_DEADLINE_SECONDS) -> None:
    def force_exit() -> None:
        print(
            f"optimerge worker: shutdown did not finish within {seconds:.0f} s (is Kafka "
            "reachable?); exiting now. Batches not acked are redelivered to the next worker, "
            "which is harmless: merges are idempotent.",
            file=sys.stderr,
            flush=True,
        )
        os._exit(0)

    timer = threading.Timer(seconds, force_exit)
    timer.daemon = True
    timer.start()


# A worker (re)started while PostgreSQL restarts waits this long for it before giving up.
STARTUP_DATABASE_WAIT_SECONDS = 10.0


def _pending_migrations(database_url: str) -> list[str]:
    deadline = time.monotonic() + STARTUP_DATABASE_WAIT_SECONDS
    while True:
        try:
            return pending_migrations(database_url)
        except Exception as exc:
            if time.monotonic() > deadline:
                raise WorkerStartupError(f"cannot reach the database: {exc}") from exc
        time.sleep(0.5)


def _check_ready(settings: ResolvedSettings) -> None:
    try:
        settings.audit_keyring()
    except MissingAuditKeyError as exc:
        raise WorkerStartupError(str(exc)) from None
    try:
        keyring = load_keyring(settings.signing)
    except SigningConfigError as exc:
        raise WorkerStartupError(str(exc)) from exc
    if not keyring.keys:
        raise WorkerStartupError(
            "no trusted signing keys: the worker would refuse every review action. Set "
            "OPTIMERGE_SIGNING__TRUSTED_KEYS_FILE (or _TRUSTED_KEYS) to the app's and the "
            "operators' public keys (README: Security)"
        )
    pending = _pending_migrations(settings.database_url)
    if pending:
        raise WorkerStartupError(
            f"the database schema is behind ({len(pending)} migration(s) pending): "
            "run `optimerge migrate` first"
        )
    topics = Topics(settings.topic_prefix)
    ensure_topics(
        settings.kafka_endpoint,
        topics,
        partitions=settings.partitions,
        replication_factor=settings.replication_factor,
        # audit.checkpoints is the checkpointer's: the worker's principal may not even see it.
        names=[name for name in topics.all() if name != topics.audit_checkpoints.name],
    )


def build_worker(settings: ResolvedSettings) -> tuple[faust.App, MergeWorker]:
    app = create_app(settings)
    merge_worker = MergeWorker(settings)
    register_merge_agent(app, merge_worker)
    register_heartbeat(app, merge_worker)
    return app, merge_worker


def run_worker(
    settings: ResolvedSettings,
    *,
    loglevel: str = "info",
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> int:
    """Blocks until SIGTERM/SIGINT; returns the exit code."""
    # Database errors quote values: log records tell codes and names only (docs/contract.md).
    install_log_redaction()
    _check_ready(settings)
    app, merge_worker = build_worker(settings)
    settle_collector()
    # The batch thread holds the GIL in long stretches; hand it back to faust's event loop
    # sooner so events keep flowing in meanwhile (measured: p99 latency -15 % at 300 docs/s).
    sys.setswitchinterval(settings.gil_switch_interval_seconds)
    if metrics_port is not None:
        _, port = serve(merge_worker.registry, metrics_host, metrics_port)
        print(f"Prometheus metrics on http://{metrics_host}:{port}/metrics", file=sys.stderr)
    worker = _Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        merge_worker.close()
    return 0
