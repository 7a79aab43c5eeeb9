"""The batch thread's own cost, without Kafka: `BatchProcessor.process` over the bench's
documents on a scratch database of the running PostgreSQL, per batch size (docs/bench.md).

    eval "$(optimerge infra env --principal admin | grep ^export)"
    .venv/bin/python scripts/profile_batch.py                 # per-document CPU and wall by size
    .venv/bin/python scripts/profile_batch.py --sizes 500 --cprofile   # where the time goes

The collector is set as the worker sets it (pipeline/collector.py): what is printed is what a
worker's batch thread spends, PostgreSQL's own work being the gap between wall and CPU."""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from datetime import UTC, datetime

from config import Settings
from optimerge.bench._env import scratch_database
from optimerge.bench.feed import bench_documents
from optimerge.bench.runner import load_patients
from optimerge.demo import load_sample, with_twins
from pipeline.batch import BatchProcessor
from pipeline.collector import settle_collector
from pipeline.decode import RawRecord


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,10,100,500", help="batch sizes, comma-separated")
    parser.add_argument("--documents", type=int, default=2000, help="documents per size")
    parser.add_argument("--twins", type=int, default=1000, help="ids per sample patient")
    parser.add_argument("--cprofile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    settings = Settings().resolved()
    sample = with_twins(load_sample(), args.twins)
    feed = bench_documents(sample, 200 + args.documents * len(sizes), seed=101)
    with scratch_database(settings, "profile") as scratch:
        load_patients(scratch.migration_url, sample, feed)
        processor = BatchProcessor(scratch)
        topic = processor.topics.extraction_results.name
        now = datetime.now(UTC)
        records = [RawRecord(topic, 0, n, d.key, d.stamped(now), now) for n, d in enumerate(feed)]
        settle_collector()  # as a worker collects
        processor.process(records[:200])  # warm: connection, caches, the first index pages
        position = 200
        profile = cProfile.Profile() if args.cprofile else None
        for size in sizes:
            count = max(size, args.documents // size * size)
            chunk = records[position : position + count]
            position += count
            cpu, wall = time.process_time(), time.perf_counter()
            if profile:
                profile.enable()
            for n in range(0, count, size):
                processor.process(chunk[n : n + size])
            if profile:
                profile.disable()
            cpu_ms = (time.process_time() - cpu) / count * 1000
            wall_ms = (time.perf_counter() - wall) / count * 1000
            print(
                f"batches of {size:4d}: {cpu_ms:.3f} ms CPU and {wall_ms:.3f} ms wall per "
                f"document ({wall_ms * size:.1f} ms per batch)",
                flush=True,
            )
        processor.close()
    if profile:
        pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
