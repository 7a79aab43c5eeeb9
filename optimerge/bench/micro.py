"""Pure CPU figures: flag-rule checks per document, and merging a 100-resource document."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import psycopg

from domain.audit_keys import AuditKeyring
from domain.flag_rules import evaluate
from domain.patients import PatientRecord, patient_record_from_fhir
from domain.reports import IncomingExtraction
from domain.stats import median, percentile
from domain.thresholds import RuleThresholds
from optimerge.bench.feed import BenchDocument
from optimerge.demo import SampleData, big_document
from pipeline.service import MergeService, judge_with
from schemas import ExtractionResult
from storage.db import connect


def rule_check_us(sample: SampleData, documents: list[BenchDocument], repeats: int = 3) -> float:
    """Median over repeats of the mean microseconds `evaluate` takes per document."""
    records: dict[str, PatientRecord] = {
        p["id"]: patient_record_from_fhir(p) for p in sample.patients
    }
    thresholds = RuleThresholds()
    pairs = [(d.result, records.get(d.result.patient_id)) for d in documents]
    runs = []
    for _ in range(repeats):
        started = time.perf_counter()
        for result, record in pairs:
            evaluate(result, record, thresholds)
        runs.append((time.perf_counter() - started) / len(pairs) * 1e6)
    return median(runs)


def big_merge_ms(
    database_url: str, sample: SampleData, keyring: AuditKeyring, iterations: int = 200
) -> dict[str, float]:
    """p50/p99 ms of merging a new 100-resource document, of re-merging one (all 100 replaced:
    each of the merged documents once, the target's figure), and of re-merging the same one
    `iterations` times over (its history grows by 100 rows each time: the history's cost)."""
    base = big_document(sample, 100)
    first: list[float] = []
    again: list[float] = []
    repeated: list[float] = []
    # The rules run as in the worker: a merge includes judging the document.
    service = MergeService(judge_with(RuleThresholds()), keyring=keyring)

    def merge(conn: psycopg.Connection, result: ExtractionResult, into: list[float] | None) -> None:
        # As the worker has it: the event as received rides along (stored and hashed as is).
        item = IncomingExtraction(result, datetime.now(UTC), raw=_raw(result))
        started = time.perf_counter()
        service.merge(conn, [item])
        if into is not None:
            into.append((time.perf_counter() - started) * 1000)

    def replaced(document_id: str, version: int) -> ExtractionResult:
        resources = [dict(r, note=[{"text": f"v{version}"}]) for r in base.resources]
        update = {"document_id": document_id, "extraction_version": version, "resources": resources}
        return base.model_copy(update=update)

    with connect(database_url) as conn:
        for n in range(10):  # warm-up: connection, caches, the first pages of each index
            merge(conn, base.model_copy(update={"document_id": f"warm-{n}"}), None)
        for n in range(iterations):
            merge(conn, base.model_copy(update={"document_id": f"big-{n}"}), first)
        for n in range(iterations):
            merge(conn, replaced(f"big-{n}", 2), again)
        for n in range(iterations):
            merge(conn, replaced("big-0", n + 3), repeated)
    return {
        "merge_p50_ms": percentile(first, 50),
        "merge_p99_ms": percentile(first, 99),
        "remerge_p50_ms": percentile(again, 50),
        "remerge_p99_ms": percentile(again, 99),
        "remerge_repeated_p50_ms": percentile(repeated, 50),
        "remerge_repeated_p99_ms": percentile(repeated, 99),
    }


def _raw(result: ExtractionResult) -> bytes:
    return result.model_dump_json().encode()
