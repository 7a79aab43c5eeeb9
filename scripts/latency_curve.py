"""Upload-to-merged latency of the real pipeline at fixed paced rates: the curve behind
`optimerge bench`'s single half-rate point (docs/bench.md). Worker processes on scratch topics
and a scratch database of the running Kafka and PostgreSQL; each rate also tells how many
documents a transaction wrote on average (small batches cost more CPU per document).

    eval "$(optimerge infra env --principal admin | grep ^export)"
    .venv/bin/python scripts/latency_curve.py --rates 200,400,600,800 --workers 2"""

from __future__ import annotations

import argparse
import time

from config import Settings
from optimerge.bench import pipeline
from optimerge.bench._env import scratch_database, scratch_topics
from optimerge.bench.feed import bench_documents
from optimerge.bench.runner import load_patients
from optimerge.demo import load_sample, with_twins
from streams.producer import EventProducer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="200,400,600,800", help="documents/s, comma-separated")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--twins", type=int, default=1000, help="ids per sample patient")
    parser.add_argument("--seconds", type=float, default=8.0, help="paced seconds per rate")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    settings = Settings().resolved()
    sample = with_twins(load_sample(), args.twins)
    with (
        scratch_database(settings, "curve") as scratch,
        scratch_topics(settings, "curve") as topics,
    ):
        run = scratch.with_overrides(topic_prefix=topics.prefix)
        url = scratch.migration_url
        warm = bench_documents(sample, 1, seed=303)
        feeds = [
            bench_documents(sample, int(rate * args.seconds), seed=400 + n)
            for n, rate in enumerate(rates)
        ]
        load_patients(url, sample, warm + [d for feed in feeds for d in feed])
        with (
            pipeline.workers(run, args.workers, settings.infra.state_dir / "bench") as procs,
            EventProducer(settings.kafka_endpoint) as producer,
        ):
            pipeline.publish(producer, topics, warm)
            pipeline.wait_processed(url, "bench-demo-303-", 1, timeout=120, procs=procs)
            for n, (rate, feed) in enumerate(zip(rates, feeds, strict=True)):
                prefix = f"bench-demo-{400 + n}-"
                pipeline.publish(producer, topics, feed, rate=rate)
                pipeline.wait_processed(url, prefix, len(feed), timeout=120, procs=procs)
                merged = pipeline.merged_window(url, prefix)
                to_merged = pipeline.latency(merged.to_merged)
                to_received = pipeline.latency(merged.to_received)
                print(
                    f"{rate:6.0f} documents/s: merged p50 {to_merged.p50:6.1f} "
                    f"p95 {to_merged.p95:6.1f} p99 {to_merged.p99:6.1f} ms; received p50 "
                    f"{to_received.p50:6.1f} p99 {to_received.p99:6.1f} ms",
                    flush=True,
                )
                each = pipeline.documents_per_transaction(url, prefix)
                print(f"{'':21}{each:.1f} documents per transaction", flush=True)
                time.sleep(2)  # let the last batch's commits and acks settle


if __name__ == "__main__":
    main()
