"""The baseline the seeds describe: one event at a time, one transaction per document."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from config import ResolvedSettings
from domain.reports import IncomingExtraction
from optimerge.bench.feed import BenchDocument
from pipeline.service import MergeService, judge_with
from storage.db import connect
from streams.consumers import group_consumer
from streams.producer import EventProducer
from streams.topics import Topics


def run_naive(
    settings: ResolvedSettings,
    topics: Topics,
    documents: list[BenchDocument],
    *,
    time_box: float = 30.0,
) -> tuple[float, int]:
    """Documents per second (and how many were done) merging one per transaction, committing
    the Kafka offset after each, as a per-document task would."""
    with EventProducer(settings.kafka_endpoint) as producer:
        for d in documents:
            producer.send(topics.extraction_results.name, d.stamped(datetime.now(UTC)), key=d.key)
    consumer = group_consumer(settings.kafka_endpoint, f"{topics.prefix}naive")
    consumer.subscribe([topics.extraction_results.name])
    service = MergeService(judge_with(settings.rules), keyring=settings.audit_keyring())
    done = 0
    try:
        with connect(settings.database_url) as conn:
            started = time.perf_counter()
            while done < len(documents) and time.perf_counter() - started < time_box:
                msg = consumer.poll(1.0)
                if msg is None or msg.error():
                    continue
                result = topics.extraction_results.decode(msg.value() or b"")
                service.merge(conn, [IncomingExtraction(result, datetime.now(UTC))])
                consumer.commit(message=msg, asynchronous=False)
                done += 1
            elapsed = time.perf_counter() - started
    finally:
        consumer.close()
    return done / elapsed, done
