"""Operations: a database outage is waited out, and every worker serves Prometheus metrics."""

from __future__ import annotations

import shutil
import time
import urllib.request
from collections.abc import Callable, Iterator

import pytest

from config import InfraSettings, ResolvedSettings
from optimerge.infra import LocalKafka, LocalPostgres
from optimerge.infra._ports import free_ports
from optimerge.infra.secrets import LocalSecrets
from storage.migrate import apply_migrations
from streams.acls import apply_grants, pipeline_grants, upsert_scram_users
from streams.admin import ensure_topics
from streams.topics import Topics
from tests.fix_infra import make_state_dir

from ._helpers import demo_feed, publish, wait_until_processed


@pytest.fixture
def own_postgres() -> Iterator[LocalPostgres]:
    """A PostgreSQL of this test's own, so it can be stopped without harming other tests."""
    state_dir = make_state_dir("optimerge-test-outage-")
    [port] = free_ports(1)
    server = LocalPostgres(
        InfraSettings(state_dir=state_dir, postgres_port=port), log=lambda _: None
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def test_database_outage_is_waited_out_and_nothing_is_lost(
    settings: ResolvedSettings, own_postgres: LocalPostgres, start_worker: Callable
) -> None:
    url = own_postgres.url()
    apply_migrations(url)
    outage = settings.with_overrides(database_url=url)
    docs = demo_feed(outage, 600, seed=41)
    worker = start_worker(outage)
    publish(outage, (d.result for d in docs[:300]))
    wait_until_processed(outage, 300)
    own_postgres.stop()
    publish(outage, (d.result for d in docs[300:]))
    time.sleep(4)  # the worker meets the outage and backs off
    assert worker.proc.poll() is None, "the worker must wait, not die"
    own_postgres.start()
    wait_until_processed(outage, 600)
    log = worker.log_text()
    assert "database unavailable" in log
    assert worker.stop() == 0


def test_worker_serves_prometheus_metrics(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    [port] = free_ports(1)
    docs = demo_feed(settings, 50, seed=42)
    worker = start_worker(settings, "--metrics-port", str(port))
    publish(settings, (d.result for d in docs))
    wait_until_processed(settings, 50)
    # Committed rows come first, then the outputs, then the counters: wait for the counters.
    deadline = time.monotonic() + 20
    text, total = "", 0.0
    while time.monotonic() < deadline and total < 50:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            time.sleep(0.5)
            continue
        total = sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("optimerge_documents_total{")
        )
        time.sleep(0.2)
    assert total == 50
    assert "optimerge_merge_duration_seconds_bucket" in text
    assert worker.stop() == 0


@pytest.fixture
def own_kafka() -> Iterator[LocalKafka]:
    """A broker of this test's own, so it can be stopped without harming other tests."""
    state_dir = make_state_dir("optimerge-test-broker-")
    kafka_port, controller_port = free_ports(2)
    infra = InfraSettings(
        state_dir=state_dir, kafka_port=kafka_port, kafka_controller_port=controller_port
    )
    broker = LocalKafka(infra, log=lambda _: None)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
        shutil.rmtree(state_dir, ignore_errors=True)


def test_sigterm_stops_the_worker_within_10_s_even_with_kafka_gone(
    settings: ResolvedSettings, own_kafka: LocalKafka, start_worker: Callable
) -> None:
    topics = Topics(settings.topic_prefix)
    admin = own_kafka.admin_endpoint
    ensure_topics(admin, topics, partitions=settings.partitions)
    # The session's principals, with the same passwords, on this broker too.
    upsert_scram_users(admin, LocalSecrets(settings.infra.state_dir).passwords())
    apply_grants(admin, pipeline_grants(topics, f"{topics.prefix}{settings.app_id}"))
    cut_off = settings.with_overrides(kafka_bootstrap_servers=own_kafka.bootstrap)
    docs = demo_feed(cut_off, 5, seed=43)
    worker = start_worker(cut_off)
    publish(cut_off, (d.result for d in docs))
    wait_until_processed(cut_off, 5)
    own_kafka.stop()
    time.sleep(2)  # the worker notices the broker is gone
    started = time.monotonic()
    assert worker.stop(timeout=10) == 0
    assert time.monotonic() - started < 10
