"""A commit in doubt resolved by the idempotent merge, and the fault suite on a cluster (issue
18; tests/faults/cluster_driver.py): three brokers
(replication factor 3, min.insync.replicas 2) and a Patroni primary with a synchronous standby of
this test's own, three workers with instance ids (one inside a network namespace) under a steady
feed of documents, re-extractions and review actions. SIGKILLs of random workers, the broker
leading the most partitions SIGKILLed, the primary SIGKILLed and the standby promoted, a worker
SIGSTOPped past its session timeout, the namespaced worker cut off for 20 s (30 s in `make
chaos`); after each fault and at the end, every invariant. Prints the table of faults and
figures (and writes it as JSON).

Bounded here (`make test`, every fault once); `make chaos` runs three rounds
(OPTIMERGE_FAULT_PLAN=long). One cluster for the module: the commit-in-doubt tests run first
and leave it whole again."""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from config import ResolvedSettings
from schemas import DocumentStatusEvent, ExtractionResult
from storage.db import connect
from streams.consumers import read_to_end
from streams.producer import EventProducer
from streams.topics import Topics
from tests.faults.app import AppProcess
from tests.faults.cluster import ClusterFaultInfra
from tests.faults.cluster_driver import ClusterPlan, run_cluster_faults
from tests.faults.in_doubt import CommitInDoubt
from tests.faults.netns import NetworkNamespace
from tests.fix_infra import make_state_dir
from tests.fix_worker import WorkerProcess

pytestmark = [pytest.mark.cluster, pytest.mark.integration, pytest.mark.slow]


def _say(request: pytest.FixtureRequest, text: str) -> None:
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(text, file=sys.stderr, flush=True)


@pytest.fixture(scope="module")
def netns() -> Iterator[NetworkNamespace]:
    namespace = NetworkNamespace.create()
    try:
        yield namespace
    finally:
        namespace.delete()


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest, netns: NetworkNamespace) -> Iterator[ClusterFaultInfra]:
    """Three brokers and a Patroni pair of this module's own, on the veth's host address."""
    infra = ClusterFaultInfra(
        make_state_dir("optimerge-test-cfaults-"),
        netns,
        log=lambda message: _say(request, f"[cluster] {message}"),
    )
    try:
        infra.start()
        yield infra
    finally:
        infra.stop()


def _extraction(document_id: str, patient_id: str) -> ExtractionResult:
    return ExtractionResult.model_validate(
        {
            "document_id": document_id,
            "patient_id": patient_id,
            "extraction_version": 1,
            "uploaded_at": "2026-11-22T10:00:00Z",
            "extracted_at": "2026-11-22T10:00:05Z",
            "model": {"name": "extractor-large", "version": "2026.10"},
            "confidence": 0.97,
            "resources": [
                {"resourceType": "Condition", "code": {"text": f"{document_id} finding {i}"}}
                for i in range(3)
            ],
        }
    )


def _publish(settings: ResolvedSettings, results: list[ExtractionResult]) -> None:
    topic = Topics(settings.topic_prefix).extraction_results
    with EventProducer(settings.kafka_endpoint) as producer:
        for result in results:
            producer.publish(topic, result)


def _record(settings: ResolvedSettings, documents: list[str]) -> dict[str, tuple[int, int, float]]:
    """document -> (version, audit entries, when its first audit entry was written)."""
    with connect(settings.migration_url, connect_timeout=3) as conn:  # the trail: as the owner
        rows = conn.execute(
            "SELECT d.document_id, d.version, count(a.audit_id), "
            "extract(epoch FROM min(a.occurred_at)) FROM documents d "
            "JOIN audit_log a USING (document_id) WHERE d.document_id = ANY(%s) "
            "GROUP BY d.document_id, d.version",
            (documents,),
        ).fetchall()
    return {doc: (version, entries, float(at)) for doc, version, entries, at in rows}


def _wait_merged(
    settings: ResolvedSettings, documents: list[str], timeout: float
) -> dict[str, tuple[int, int, float]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = _record(settings, documents)
        except psycopg.Error:
            found = {}
        if len(found) == len(documents) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def _statuses(
    settings: ResolvedSettings, documents: list[str], timeout: float
) -> dict[str, list[DocumentStatusEvent]]:
    """Every status event of `documents`, once each has one (the worker publishes after its
    batch is written: in the `replicated` case the rows are there before its retry is done)."""
    topic = Topics(settings.topic_prefix).document_status
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, list[DocumentStatusEvent]] = {}
        for record in read_to_end(settings.kafka_endpoint, topic.name):
            event = topic.decode(record.value)
            found.setdefault(event.document_id, []).append(event)
        if set(documents) <= found.keys() or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


@pytest.mark.parametrize("fate", ["lost", "replicated"])
def test_a_commit_in_doubt_is_resolved_by_the_idempotent_merge(
    cluster: ClusterFaultInfra, tmp_path: Path, request: pytest.FixtureRequest, fate: str
) -> None:
    """The primary dies while the worker's COMMIT waits for the standby (tests/faults/
    in_doubt.py). `lost`: the standby never had the batch, the worker's retry on the promoted
    standby writes it. `replicated`: the standby had it, the retry finds it there and writes
    nothing. Either way every document is merged once, with one audit entry, and announced
    once as merged (any copy identical); and the reviewer app answers from the new primary at
    once (its pool had only connections to the dead one)."""
    prefix = f"doubt-{uuid.uuid4().hex[:6]}."
    settings = cluster.settings(prefix, partitions=1)
    database = str(conninfo_to_dict(settings.database_url)["dbname"])
    worker = WorkerProcess(settings, tmp_path / "worker.log", tmp_path, ("--instance-id", "w"))
    app = AppProcess(settings, tmp_path)
    documents = [f"{prefix}doc-{n:02d}" for n in range(20)]
    try:
        _publish(settings, [_extraction(f"{prefix}warm-up", "doubt-patient-0")])
        assert _wait_merged(settings, [f"{prefix}warm-up"], timeout=90), worker.log_text()
        app.wait_ready()
        doubt = CommitInDoubt(cluster, database)
        doubt.hold_replication()
        _publish(
            settings, [_extraction(d, f"doubt-patient-{n % 5}") for n, d in enumerate(documents)]
        )
        frozen = doubt.freeze_waiting_commits()
        if fate == "replicated":
            doubt.release_replication()
        query = "SELECT count(*) FROM documents WHERE document_id = ANY(%s)"
        on_standby = doubt.on_standby(query, documents)
        assert (on_standby != 0) == (fate == "replicated"), on_standby
        killed = time.time()
        doubt.kill_primary()

        record = _wait_merged(settings, documents, timeout=120)
        took = time.time() - killed
        # The app's pooled connections died with the primary: its first answer after the
        # failover comes from a new one, not an error.
        health = app.healthz()
        assert health.status_code == 200, (health.text, app.log_path.read_text()[-2000:])
        assert sorted(record) == sorted(documents), worker.log_text()[-3000:]
        assert {version for version, _, _ in record.values()} == {1}
        assert {entries for _, entries, _ in record.values()} == {1}
        before = sorted(d for d, (_, _, at) in record.items() if at < killed)
        # What the standby had when the primary died is exactly what was written before it.
        assert len(before) == on_standby, (before, on_standby)
        log = worker.log_text()
        assert "database unavailable" in log, log[-3000:]
        statuses = _statuses(settings, documents, timeout=60)
        for doc in documents:
            merged = {s.model_dump_json() for s in statuses.get(doc, []) if s.outcome == "merged"}
            assert len(merged) == 1, (doc, statuses.get(doc))
        rejoined = cluster.wait_pair()
        # The old primary, back as a standby, holds no trace of a lost commit.
        query = "SELECT count(*) FROM audit_log WHERE document_id = ANY(%s)"
        assert CommitInDoubt(cluster, database).on_standby(query, documents) == len(documents)
        _say(
            request,
            f"\n[commit in doubt: {fate}] {len(frozen)} COMMIT(s) frozen in SyncRep, "
            f"{on_standby} of {len(documents)} documents on the standby when the primary was "
            f"SIGKILLed; all {len(documents)} merged once and announced once {took:.1f} s "
            f"later; old primary a sync standby again after {rejoined:.1f} s more",
        )
    finally:
        worker.close()
        app.close()


@pytest.mark.fault
@pytest.mark.cluster_fault
@pytest.mark.timeout(1800)
def test_the_pipeline_survives_the_cluster_fault_plan(
    cluster: ClusterFaultInfra, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    plan = (
        ClusterPlan.long()
        if os.environ.get("OPTIMERGE_FAULT_PLAN") == "long"
        else ClusterPlan.bounded()
    )
    report = run_cluster_faults(
        cluster, plan, tmp_path, log=lambda message: _say(request, f"[cluster faults] {message}")
    )
    report.write(tmp_path / "cluster-fault-report.json")
    _say(request, f"\n{report.table()}\n(JSON: {tmp_path / 'cluster-fault-report.json'})")
    assert report.ok, report.table()
    assert report.processed == report.published
