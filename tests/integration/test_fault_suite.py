"""The fault suite (issue 12; tests/faults): three workers under a steady feed of documents,
re-extractions and review actions, while workers are SIGKILLed and replaced, one is SIGTERMed
mid-batch, and PostgreSQL and Kafka (the suite's own) are SIGKILLed and brought back. Then every
invariant is checked and the figures are printed as a table (and written as JSON).

Bounded here (`make test`); `make chaos` runs the long plan (OPTIMERGE_FAULT_PLAN=long).
OPTIMERGE_FAULT_MEMBERSHIP=dynamic runs the workers without instance ids, to compare."""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.driver import FaultPlan, run_faults
from tests.faults.infra import FaultInfra
from tests.fix_infra import make_state_dir

pytestmark = [pytest.mark.fault, pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture
def fault_infra(request: pytest.FixtureRequest) -> Iterator[FaultInfra]:
    """A Kafka and a PostgreSQL of this test's own: killing them touches no other test."""
    infra = FaultInfra(make_state_dir("optimerge-test-faults-"))
    try:
        infra.start()
        yield infra
    finally:
        infra.stop()


def _say(request: pytest.FixtureRequest, text: str) -> None:
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(text, file=sys.stderr, flush=True)


def test_the_pipeline_survives_the_fault_plan(
    fault_infra: FaultInfra, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    plan = (
        FaultPlan.long()
        if os.environ.get("OPTIMERGE_FAULT_PLAN") == "long"
        else FaultPlan.bounded()
    )
    if os.environ.get("OPTIMERGE_FAULT_MEMBERSHIP") == "dynamic":  # for comparison only
        plan = dataclasses.replace(plan, static_membership=False)
    report = run_faults(
        fault_infra, plan, tmp_path, log=lambda message: _say(request, f"[faults] {message}")
    )
    report.write(tmp_path / "fault-report.json")
    _say(request, f"\n{report.table()}\n(JSON: {tmp_path / 'fault-report.json'})")
    assert report.ok, report.table()
    assert report.processed == report.published
    assert report.longest_live_wait <= 15, report.table()
    assert report.longest_dead_worker_recovery <= 30, report.table()
    assert report.sigterm_exit_seconds < 10
