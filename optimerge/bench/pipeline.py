"""The real pipeline: worker processes, first publish until every document is merged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from config import ResolvedSettings, kafka_env, signing_env
from domain.stats import percentile
from optimerge.bench.feed import BenchDocument
from storage.db import connect
from streams.producer import EventProducer
from streams.topics import Topics


@dataclass(frozen=True, slots=True)
class Latency:
    p50: float
    p95: float
    p99: float


@contextmanager
def workers(
    settings: ResolvedSettings, count: int, log_dir: Path, metrics_ports: Sequence[int] = ()
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """`count` worker processes (each serving Prometheus metrics on its port, when given)."""
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "OPTIMERGE_TOPIC_PREFIX": settings.topic_prefix,
        "OPTIMERGE_PARTITIONS": str(settings.partitions),
        **settings.audit.child_env(settings.infra.state_dir),
        **kafka_env(settings.kafka),
        **signing_env(settings.signing),
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    procs = []
    logs = []
    try:
        for n in range(count):
            log = (log_dir / f"bench-worker-{n}.log").open("wb")
            logs.append(log)
            argv = [sys.executable, "-m", "optimerge", "worker", "--loglevel", "warning"]
            if metrics_ports:
                argv += ["--metrics-port", str(metrics_ports[n])]
            procs.append(
                subprocess.Popen(
                    argv,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        for log in logs:
            log.close()


def processed(conn: psycopg.Connection, prefix: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM documents WHERE document_id LIKE %s "
        "AND processing_status IN ('COMPLETE', 'FAILED')",
        (prefix + "%",),
    ).fetchone()
    return row[0] if row else 0


def wait_processed(
    database_url: str,
    prefix: str,
    expected: int,
    *,
    timeout: float,
    on_progress: Callable[[int], None] = lambda _: None,
    procs: list[subprocess.Popen[bytes]] | None = None,
    every: float = 0.2,
) -> list[tuple[float, int]]:
    """Poll until `expected` documents are processed; returns (epoch s, done) at each poll."""
    deadline = time.monotonic() + timeout
    progress: list[tuple[float, int]] = []
    # One connection for all polls: a new backend per poll would count as PostgreSQL's CPU.
    with connect(database_url, autocommit=True) as conn:
        while True:
            done = processed(conn, prefix)
            progress.append((time.time(), done))
            on_progress(done)
            if done >= expected:
                return progress
            if procs and any(p.poll() is not None for p in procs):
                raise RuntimeError("a benchmark worker exited; see its log in the state dir")
            if time.monotonic() > deadline:
                raise TimeoutError(f"{done} of {expected} documents merged after {timeout:.0f} s")
            time.sleep(every)


def publish(
    producer: EventProducer,
    topics: Topics,
    documents: list[BenchDocument],
    rate: float | None = None,
) -> float:
    """Send the documents (at `rate` per second, or as fast as possible); returns the start.

    The producer must be warm (one message delivered before): a new idempotent producer waits
    for its producer id, which would count as latency of the first documents."""
    started = time.time()
    for n, d in enumerate(documents):
        if rate:
            delay = started + n / rate - time.time()
            if delay > 0:
                time.sleep(delay)
        producer.send(topics.extraction_results.name, d.stamped(datetime.now(UTC)), key=d.key)
    producer.flush()
    return started


@dataclass(frozen=True, slots=True)
class Merged:
    """When the last of these documents was merged (epoch s), and per document the ms from
    upload to received by the worker and to merged (documents.received_at, merged_at)."""

    last: float
    to_merged: list[float]
    to_received: list[float]


def merged_window(database_url: str, prefix: str) -> Merged:
    with connect(database_url) as conn:
        rows = conn.execute(
            "SELECT extract(epoch FROM merged_at), "
            "1000 * extract(epoch FROM merged_at - uploaded_at), "
            "1000 * extract(epoch FROM received_at - uploaded_at) FROM documents "
            "WHERE document_id LIKE %s AND merged_at IS NOT NULL",
            (prefix + "%",),
        ).fetchall()
    return Merged(
        last=max(float(r[0]) for r in rows),
        to_merged=[float(r[1]) for r in rows],
        to_received=[float(r[2]) for r in rows],
    )


def transactions(database_url: str, prefix: str) -> tuple[int, int]:
    """These documents, and the transactions that wrote them: the rows one transaction writes
    share its `now()` (documents.created_at)."""
    with connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT created_at) FROM documents WHERE document_id LIKE %s",
            (prefix + "%",),
        ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def documents_per_transaction(database_url: str, prefix: str) -> float:
    """Documents each worker transaction wrote, on average: the fixed cost of a transaction
    (fetch, statements, commit, produce) is shared by this many."""
    count, written_in = transactions(database_url, prefix)
    return count / max(1, written_in)


def latency(samples: list[float]) -> Latency:
    return Latency(percentile(samples, 50), percentile(samples, 95), percentile(samples, 99))
