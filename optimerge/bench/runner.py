"""Runs every phase of `optimerge bench` side by side, repeats them, and reports medians."""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from config import ResolvedSettings
from domain.stats import median
from optimerge.bench._env import scratch_database, scratch_topics
from optimerge.bench.ceiling import run_ceiling
from optimerge.bench.feed import BenchDocument, bench_documents, resource_count
from optimerge.bench.micro import big_merge_ms, rule_check_us
from optimerge.bench.naive import run_naive
from optimerge.bench.pipeline import (
    latency,
    merged_window,
    publish,
    wait_processed,
    workers,
)
from optimerge.demo import SampleData, load_sample
from storage.db import connect
from storage.patients import import_patients
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


def _load_patients(database_url: str, sample: SampleData, documents: list[BenchDocument]) -> None:
    with connect(database_url) as conn:
        import_patients(conn, sample.patients)
        ids = sorted({d.result.patient_id for d in documents})
        conn.execute(
            "INSERT INTO patients (patient_id) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
            (ids,),
        )
        conn.commit()


def _pipeline_run(
    settings: ResolvedSettings,
    sample: SampleData,
    feed: list[BenchDocument],
    config: BenchConfig,
    progress: Progress,
) -> dict[str, float]:
    with (
        scratch_database(settings, "pipe") as scratch,
        scratch_topics(settings, "pipe") as topics,
    ):
        run = scratch.with_overrides(topic_prefix=topics.prefix)
        url = scratch.migration_url
        warm = bench_documents(sample, 1, seed=303)
        _load_patients(url, sample, feed + warm)
        with (
            workers(run, config.workers, settings.infra.state_dir / "bench") as procs,
            EventProducer(settings.kafka_endpoint) as producer,
        ):
            publish(producer, topics, warm)
            wait_processed(url, "bench-demo-303-", 1, timeout=120, procs=procs)
            started = publish(producer, topics, feed)
            wait_processed(
                url,
                "bench-demo-101-",
                len(feed),
                timeout=600,
                procs=procs,
                on_progress=lambda n: progress("pipeline", n, len(feed)),
            )
            finished, full_latencies = merged_window(url, "bench-demo-101-")
            rate = len(feed) / (finished - started)
            half = rate / 2
            count = max(50, int(half * config.half_rate_seconds))
            paced = bench_documents(sample, count, seed=202)
            _load_patients(url, sample, paced)
            publish(producer, topics, paced, rate=half)
            wait_processed(url, "bench-demo-202-", count, timeout=120, procs=procs)
            _, half_latencies = merged_window(url, "bench-demo-202-")
    full, paced_latency = latency(full_latencies), latency(half_latencies)
    return {
        "documents_per_s": rate,
        "resources_per_s": rate * resource_count(feed) / len(feed),
        "full_p50_ms": full.p50,
        "full_p95_ms": full.p95,
        "full_p99_ms": full.p99,
        "half_rate_per_s": half,
        "half_p50_ms": paced_latency.p50,
        "half_p95_ms": paced_latency.p95,
        "half_p99_ms": paced_latency.p99,
    }


def _naive_run(
    settings: ResolvedSettings, sample: SampleData, feed: list[BenchDocument], config: BenchConfig
) -> float:
    subset = feed[: config.naive_documents]
    with (
        scratch_database(settings, "naive") as scratch,
        scratch_topics(settings, "naive") as topics,
    ):
        _load_patients(scratch.migration_url, sample, subset)
        run = scratch.with_overrides(topic_prefix=topics.prefix)
        rate, _ = run_naive(run, topics, subset, time_box=config.naive_seconds)
    return rate


def _ceiling_run(
    settings: ResolvedSettings, sample: SampleData, feed: list[BenchDocument]
) -> float:
    with scratch_database(settings, "ceiling") as scratch:
        _load_patients(scratch.migration_url, sample, feed)
        # COPY as the owner: the ceiling of the database itself, no function in between.
        return run_ceiling(scratch.migration_url, feed)


def run_bench(
    settings: ResolvedSettings, config: BenchConfig, say: Say, progress: Progress
) -> dict[str, Any]:
    sample = load_sample()
    say(f"building {config.documents:,} documents from the Synthea sample")
    feed = bench_documents(sample, config.documents, seed=101)
    # The feed lives as long as the run: keep the collector from rescanning it in every phase.
    gc.collect()
    gc.freeze()
    runs: list[dict[str, float]] = []
    for n in range(config.repeats):
        say(f"run {n + 1}/{config.repeats}: ceiling (COPY)")
        ceiling = _ceiling_run(settings, sample, feed)
        say(f"run {n + 1}/{config.repeats}: naive (one transaction per document)")
        naive = _naive_run(settings, sample, feed, config)
        say(f"run {n + 1}/{config.repeats}: pipeline ({config.workers} workers)")
        pipe = _pipeline_run(settings, sample, feed, config, progress)
        runs.append({"ceiling_documents_per_s": ceiling, "naive_documents_per_s": naive, **pipe})
    say("pure CPU figures: rule checks, 100-resource merge")
    with scratch_database(settings, "micro") as scratch:
        _load_patients(scratch.migration_url, sample, [])
        big = big_merge_ms(scratch.database_url, sample, settings.audit_keyring())
    medians = {key: median([r[key] for r in runs]) for key in runs[0]}
    return {
        "config": {
            "documents": config.documents,
            "resources": resource_count(feed),
            "workers": config.workers,
            "repeats": config.repeats,
            "naive_documents": config.naive_documents,
            "partitions": settings.partitions,
        },
        "runs": runs,
        "median": medians,
        "ratios": {
            "pipeline/naive": medians["documents_per_s"] / medians["naive_documents_per_s"],
            "pipeline/ceiling": medians["documents_per_s"] / medians["ceiling_documents_per_s"],
        },
        "rule_check_us_per_document": rule_check_us(sample, feed),
        "big_document": big,
    }
