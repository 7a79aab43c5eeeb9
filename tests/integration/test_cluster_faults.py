"""The fault suite on a cluster (issue 18; tests/faults/cluster_driver.py): three brokers
(replication factor 3, min.insync.replicas 2) and a Patroni primary with a synchronous standby of
this test's own, three workers with instance ids (one inside a network namespace) under a steady
feed of documents, re-extractions and review actions. SIGKILLs of random workers, the broker
leading the most partitions SIGKILLed, the primary SIGKILLed and the standby promoted, a worker
SIGSTOPped past its session timeout, the namespaced worker cut off for 30 s; after each fault and
at the end, every invariant. Prints the table of faults and figures (and writes it as JSON).

Bounded here (`make test`, every fault once); `make chaos` runs three rounds
(OPTIMERGE_FAULT_PLAN=long)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.cluster import ClusterFaultInfra
from tests.faults.cluster_driver import ClusterPlan, run_cluster_faults
from tests.faults.netns import NetworkNamespace
from tests.fix_infra import make_state_dir

pytestmark = [
    pytest.mark.fault,
    pytest.mark.cluster,
    pytest.mark.cluster_fault,
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(1800),
]


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
