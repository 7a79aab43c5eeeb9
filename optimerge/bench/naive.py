"""The baseline the seeds describe: one event at a time, one transaction per document."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from confluent_kafka import Consumer

from domain.flag_rules import evaluate
from optimerge.bench.feed import BenchDocument
from optimerge.settings import Settings
from schemas import ExtractionResult
from storage.db import connect
from storage.merge import IncomingExtraction, merge_batch
from streams.producer import EventProducer
from streams.topics import Topics


def run_naive(
    settings: Settings, topics: Topics, documents: list[BenchDocument], *, time_box: float = 30.0
) -> tuple[float, int]:
    """Documents per second (and how many were done) merging one per transaction, committing
    the Kafka offset after each, as a per-document task would."""
    assert settings.kafka_bootstrap_servers
    assert settings.database_url
    with EventProducer(settings.kafka_bootstrap_servers) as producer:
        for d in documents:
            producer.send(topics.extraction_results, d.stamped(datetime.now(UTC)), key=d.key)
    consumer = Consumer(
        {
            "bootstrap.servers": settings.kafka_bootstrap_servers,
            "group.id": f"{topics.prefix}naive",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topics.extraction_results])
    thresholds = settings.rules
    done = 0
    try:
        with connect(settings.database_url) as conn:
            started = time.perf_counter()
            while done < len(documents) and time.perf_counter() - started < time_box:
                msg = consumer.poll(1.0)
                if msg is None or msg.error():
                    continue
                result = ExtractionResult.model_validate_json(msg.value() or b"")
                merge_batch(
                    conn,
                    [IncomingExtraction(result, datetime.now(UTC))],
                    evaluate=lambda r, rec: evaluate(r, rec, thresholds),
                )
                consumer.commit(message=msg, asynchronous=False)
                done += 1
            elapsed = time.perf_counter() - started
    finally:
        consumer.close()
    return done / elapsed, done
