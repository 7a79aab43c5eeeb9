"""Runs every phase of `optimerge bench` side by side, repeats them, and reports medians.

Per repeat: the raw COPY (the limit), the own-schema COPY, the naive consumer, then the pipeline
with each worker count of the scaling curve; the run with the configured count also measures
CPU per process and, at half its rate, the upload-to-merged latency and its split by stage."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from config import ResolvedSettings
from domain.stats import median
from optimerge.bench import stage_split
from optimerge.bench._env import scratch_database, scratch_topics
from optimerge.bench.ceiling import run_ceiling
from optimerge.bench.cpu import CpuMeter, ms_per_document
from optimerge.bench.feed import BenchDocument, bench_documents, resource_count
from optimerge.bench.machine import shares
from optimerge.bench.micro import big_merge_ms, rule_check_us
from optimerge.bench.naive import run_naive
from optimerge.bench.pipeline import (
    documents_per_transaction,
    latency,
    merged_window,
    publish,
    wait_processed,
    workers,
)
from optimerge.bench.rawcopy import run_raw_copy
from optimerge.bench.summary import summarise
from optimerge.demo import SampleData, load_sample, with_twins
from optimerge.infra._ports import free_ports
from pipeline.collector import settle_collector
from storage.db import connect
from storage.patients import add_patient_ids, import_patients
from streams.producer import EventProducer

Say = Callable[[str], None]
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class BenchConfig:
    documents: int = 20_000
    workers: int = 2
    repeats: int = 3
    naive_documents: int = 3_000
    naive_seconds: float = 15.0
    half_rate_seconds: float = 10.0
    # Worker counts of the scaling curve (the configured count is measured in any case).
    scaling: tuple[int, ...] = (1, 2, 3)
    # Each sample patient filed under this many ids: the feed's keys spread over the partitions
    # as a hospital's do (the sample's dozen patients would leave partitions empty).
    twins: int = 1000


def load_patients(database_url: str, sample: SampleData, documents: list[BenchDocument]) -> None:
    """The sample's patients, and a row for every other patient the documents name."""
    with connect(database_url) as conn:
        import_patients(conn, sample.patients)
        add_patient_ids(conn, [d.result.patient_id for d in documents])


def _rates(
    progress: list[tuple[float, int]], started: float, step: float = 1.0
) -> list[tuple[float, float]]:
    """Documents per second in each `step` seconds since the first publish (from the polls)."""
    out: list[tuple[float, float]] = []
    edge, last = started + step, 0
    for t, done in progress:
        while t >= edge:
            out.append((round(edge - started, 3), (done - last) / step))
            edge, last = edge + step, done
    return out


def _pipeline_run(
    settings: ResolvedSettings,
    sample: SampleData,
    feed: list[BenchDocument],
    config: BenchConfig,
    progress: Progress,
    *,
    worker_count: int,
    full: bool,
) -> dict[str, Any]:
    """The feed through `worker_count` workers; with `full`, CPU per process and the paced
    half-rate phase as well."""
    with (
        scratch_database(settings, "pipe") as scratch,
        scratch_topics(settings, "pipe") as topics,
    ):
        run = scratch.with_overrides(topic_prefix=topics.prefix)
        url = scratch.migration_url
        warm = bench_documents(sample, 1, seed=303)
        load_patients(url, sample, feed + warm)
        ports = free_ports(worker_count) if full else []
        with (
            workers(run, worker_count, settings.infra.state_dir / "bench", ports) as procs,
            EventProducer(settings.kafka_endpoint) as producer,
        ):
            publish(producer, topics, warm)
            wait_processed(url, "bench-demo-303-", 1, timeout=120, procs=procs)
            meter = CpuMeter.find([p.pid for p in procs], settings.kafka_bootstrap_servers, url)
            before = meter.snapshot()
            started = publish(producer, topics, feed)
            polls = wait_processed(
                url,
                "bench-demo-101-",
                len(feed),
                timeout=600,
                procs=procs,
                on_progress=lambda n: progress(f"pipeline ({worker_count} w)", n, len(feed)),
            )
            after = meter.snapshot()
            merged = merged_window(url, "bench-demo-101-")
            rate = len(feed) / (merged.last - started)
            figures: dict[str, Any] = {
                "documents_per_s": rate,
                "resources_per_s": rate * resource_count(feed) / len(feed),
            }
            if not full:
                return figures
            full_latency = latency(merged.to_merged)
            figures.update(
                {
                    "full_p50_ms": full_latency.p50,
                    "full_p95_ms": full_latency.p95,
                    "full_p99_ms": full_latency.p99,
                    "cpu_ms_per_document": ms_per_document(before, after, len(feed)),
                    "machine_full": shares(before.machine, after.machine),
                    "documents_per_transaction": documents_per_transaction(url, "bench-demo-101-"),
                    "throughput": _rates(polls, started),
                }
            )
            figures.update(
                _half_rate(url, sample, topics, producer, procs, ports, meter, rate, config)
            )
    return figures


def _half_rate(
    url: str,
    sample: SampleData,
    topics: Any,
    producer: EventProducer,
    procs: Any,
    ports: Sequence[int],
    meter: CpuMeter,
    rate: float,
    config: BenchConfig,
) -> dict[str, Any]:
    """Documents paced at half the measured rate: end-to-end latency and where it goes."""
    half = rate / 2
    count = max(50, int(half * config.half_rate_seconds))
    paced = bench_documents(sample, count, seed=202)
    load_patients(url, sample, paced)
    stages_before, cpu_before = stage_split.scrape(ports), meter.snapshot()
    publish(producer, topics, paced, rate=half)
    wait_processed(url, "bench-demo-202-", count, timeout=120, procs=procs)
    cpu_after = meter.snapshot()
    merged = merged_window(url, "bench-demo-202-")
    to_merged, to_received = latency(merged.to_merged), latency(merged.to_received)
    return {
        "half_rate_per_s": half,
        "half_p50_ms": to_merged.p50,
        "half_p95_ms": to_merged.p95,
        "half_p99_ms": to_merged.p99,
        "half_received_p50_ms": to_received.p50,
        "half_received_p99_ms": to_received.p99,
        "half_stages": stage_split.split(
            stage_split.added(stages_before, stage_split.scrape(ports))
        ),
        "half_cpu_ms_per_document": ms_per_document(cpu_before, cpu_after, count),
        "machine_half": shares(cpu_before.machine, cpu_after.machine),
        "half_documents_per_transaction": documents_per_transaction(url, "bench-demo-202-"),
        "half_latencies_ms": sorted(round(v, 2) for v in merged.to_merged),
    }


def _naive_run(
    settings: ResolvedSettings, sample: SampleData, feed: list[BenchDocument], config: BenchConfig
) -> float:
    subset = feed[: config.naive_documents]
    with (
        scratch_database(settings, "naive") as scratch,
        scratch_topics(settings, "naive") as topics,
    ):
        load_patients(scratch.migration_url, sample, subset)
        run = scratch.with_overrides(topic_prefix=topics.prefix)
        rate, _ = run_naive(run, topics, subset, time_box=config.naive_seconds)
    return rate


def _ceiling_run(
    settings: ResolvedSettings, sample: SampleData, feed: list[BenchDocument]
) -> float:
    with scratch_database(settings, "ceiling") as scratch:
        load_patients(scratch.migration_url, sample, feed)
        # COPY as the owner: the ceiling of the database itself, no function in between.
        return run_ceiling(scratch.migration_url, feed)


def _repeat(
    settings: ResolvedSettings,
    sample: SampleData,
    feed: list[BenchDocument],
    config: BenchConfig,
    say: Say,
    progress: Progress,
    label: str,
) -> dict[str, Any]:
    say(f"{label}: raw COPY (the limit)")
    raw = run_raw_copy(settings.migration_url, feed)
    say(f"{label}: own-schema COPY")
    ceiling = _ceiling_run(settings, sample, feed)
    say(f"{label}: naive (one transaction per document)")
    naive = _naive_run(settings, sample, feed, config)
    say(f"{label}: pipeline ({config.workers} workers), then half its rate")
    pipe = _pipeline_run(
        settings, sample, feed, config, progress, worker_count=config.workers, full=True
    )
    scaling = {str(config.workers): pipe["documents_per_s"]}
    for count in config.scaling:
        if count != config.workers:
            say(f"{label}: scaling curve, {count} worker(s)")
            scaling[str(count)] = _pipeline_run(
                settings, sample, feed, config, progress, worker_count=count, full=False
            )["documents_per_s"]
    return {
        "raw_copy_documents_per_s": raw,
        "ceiling_documents_per_s": ceiling,
        "naive_documents_per_s": naive,
        **pipe,
        "scaling_documents_per_s": dict(sorted(scaling.items(), key=lambda kv: int(kv[0]))),
    }


def run_bench(
    settings: ResolvedSettings, config: BenchConfig, say: Say, progress: Progress
) -> dict[str, Any]:
    sample = with_twins(load_sample(), config.twins)
    say(
        f"building {config.documents:,} documents from the Synthea sample, "
        f"for {len(sample.patients):,} patients"
    )
    feed = bench_documents(sample, config.documents, seed=101)
    # The feed lives as long as the run: keep the collector from rescanning it in every phase.
    settle_collector()
    load_before = os.getloadavg()
    runs = [
        _repeat(settings, sample, feed, config, say, progress, f"run {n + 1}/{config.repeats}")
        for n in range(config.repeats)
    ]
    say("pure CPU figures: rule checks, 100-resource merge")
    settle_collector()  # what the runs left alive stays so: the merge starts as a worker starts
    with scratch_database(settings, "micro") as scratch:
        load_patients(scratch.migration_url, sample, [])
        big = big_merge_ms(scratch.database_url, sample, settings.audit_keyring())
    return summarise(
        config={
            "documents": config.documents,
            "resources": resource_count(feed),
            "workers": config.workers,
            "repeats": config.repeats,
            "naive_documents": config.naive_documents,
            "patients": len(sample.patients),
            "partitions": settings.partitions,
            "scaling": list(config.scaling),
            "cpus": os.cpu_count(),
        },
        runs=runs,
        load=(load_before, os.getloadavg()),
        rule_check_us=rule_check_us(sample, feed),
        big=big,
        median_of=median,
    )
