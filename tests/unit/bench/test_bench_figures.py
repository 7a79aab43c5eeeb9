"""The bench's own arithmetic: stage quantiles, CPU from /proc, medians, targets, the report."""

from __future__ import annotations

import math
import os

from domain.stats import median
from optimerge.bench.cpu import CpuMeter, CpuSnapshot, broker_port, cpu_seconds, ms_per_document
from optimerge.bench.report import render_report
from optimerge.bench.stage_split import added, quantile, split
from optimerge.bench.summary import summarise


def test_quantile_interpolates_within_the_bucket_as_prometheus_does():
    buckets = [(0.01, 50.0), (0.02, 100.0), (math.inf, 100.0)]
    assert quantile(buckets, 0.5) == 10.0
    assert quantile(buckets, 0.75) == 15.0
    assert quantile([(0.01, 0.0), (math.inf, 0.0)], 0.5) is None


def test_a_phase_is_what_the_histograms_added_meanwhile():
    before = {"total": [(0.01, 10.0), (math.inf, 10.0)]}
    after = {"total": [(0.01, 15.0), (math.inf, 30.0)]}
    phase = added(before, after)
    assert phase == {"total": [(0.01, 5.0), (math.inf, 20.0)]}
    assert split(phase)["total"]["count"] == 20.0


def test_cpu_of_this_process_and_per_document():
    assert cpu_seconds(os.getpid()) > 0
    assert cpu_seconds(2**22 + 12345) == 0.0  # no such process
    meter = CpuMeter(workers=[os.getpid()], broker=None, postmaster=None)
    first = meter.snapshot()
    sum(i * i for i in range(300_000))
    figures = ms_per_document(first, meter.snapshot(), 10)
    assert figures["broker"] is None and figures["postgres"] is None
    assert figures["workers"] is not None and figures["workers"] >= 0
    a, b = CpuSnapshot(1.0, 2.0, 3.0, 0.0), CpuSnapshot(2.0, 2.5, 4.0, 0.5)
    assert ms_per_document(a, b, 1000) == {
        "workers": 1.0,
        "broker": 0.5,
        "postgres": 1.0,
        "publisher": 0.5,
        "total": 3.0,
    }


def test_only_a_local_broker_is_measured():
    assert broker_port("127.0.0.1:29092,127.0.0.1:29093") == 29092
    assert broker_port("kafka.example.org:9092") is None


def _run(rate: float) -> dict:
    return {
        "raw_copy_documents_per_s": 4000.0,
        "ceiling_documents_per_s": 2000.0,
        "naive_documents_per_s": 50.0,
        "documents_per_s": rate,
        "half_p50_ms": 20.0,
        "half_p99_ms": 200.0,
        "cpu_ms_per_document": {"workers": 0.5, "broker": None, "total": 0.5},
        "half_stages": {"total": {"p50_ms": 20.0, "p95_ms": 50.0, "p99_ms": 90.0}},
        "scaling_documents_per_s": {"1": rate / 2, "2": rate},
        "throughput": [[1.0, rate], [2.0, rate]],
        "half_latencies_ms": [5.0, 20.0, 200.0],
        "half_rate_per_s": rate / 2,
        "documents_per_transaction": rate / 10,
        "half_documents_per_transaction": 4.5,
    }


def test_medians_ratios_targets_and_the_report():
    result = summarise(
        config={"documents": 10, "resources": 100, "workers": 2, "repeats": 3, "cpus": 2},
        runs=[_run(1000.0), _run(3000.0), _run(2000.0)],
        load=((1.0, 1.0, 1.0), (2.0, 2.0, 2.0)),
        rule_check_us=5.0,
        big={"merge_p99_ms": 20.0, "remerge_p99_ms": 30.0},
        median_of=median,
    )
    assert result["median"]["documents_per_s"] == 2000.0
    assert result["median"]["scaling_documents_per_s"] == {"1": 1000.0, "2": 2000.0}
    assert result["median"]["cpu_ms_per_document"]["broker"] is None
    assert result["median"]["documents_per_transaction"] == 200.0
    assert result["ratios"]["pipeline/raw_copy"] == 0.5
    assert result["ratios"]["pipeline/naive"] == 40.0
    targets = result["targets"]
    assert targets["pipeline/raw_copy"]["met"] and targets["half_p50_ms"]["met"]
    assert not targets["half_p99_ms"]["met"] and not targets["big_remerge_p99_ms"]["met"]
    assert result["series"]["throughput"] == [[1.0, 2000.0], [2.0, 2000.0]]
    assert "throughput" not in result["runs"][0]
    page = render_report(result)
    assert page.startswith("<!doctype html>") and page.count("<svg") == 5
    assert "documents per transaction at half rate</td><td class=n>4.50<" in page
    assert "missed" in page and "http" not in page.replace("http://www.w3.org", "")
