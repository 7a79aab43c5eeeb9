"""Helpers for pipeline tests: publish feeds, wait for the database, read output topics."""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson

from config import ResolvedSettings
from optimerge.demo import DemoDocument, build_documents, load_sample
from schemas import ExtractionResult
from storage.db import connect
from storage.patients import import_patients
from streams.consumers import read_to_end
from streams.producer import EventProducer
from streams.topics import Topics


def demo_feed(settings: ResolvedSettings, count: int, seed: int = 11) -> list[DemoDocument]:
    """Build a feed from the Synthea sample and load its patients into the registry."""
    sample = load_sample()
    with connect(settings.database_url) as conn:
        import_patients(conn, sample.patients)
    return build_documents(sample, count, seed=seed)


def publish(settings: ResolvedSettings, results: Iterable[ExtractionResult]) -> int:
    topic = Topics(settings.topic_prefix).extraction_results.name
    n = 0
    with EventProducer(settings.kafka_endpoint) as producer:
        for result in results:
            producer.send(topic, result.model_dump_json().encode(), key=result.patient_id)
            n += 1
    return n


def wait_until_processed(settings: ResolvedSettings, expected: int, timeout: float = 180.0) -> None:
    """Wait until `expected` documents are COMPLETE or FAILED."""
    deadline = time.monotonic() + timeout
    done = 0
    with connect(settings.database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT count(*) FROM documents WHERE processing_status IN ('COMPLETE', 'FAILED')"
            ).fetchone()
            done = row[0] if row else 0
            if done >= expected:
                return
            time.sleep(0.25)
    raise AssertionError(f"only {done} of {expected} documents processed within {timeout} s")


def read_topic(settings: ResolvedSettings, topic: str, timeout: float = 10.0) -> list[dict]:
    """Every message currently on `topic`, decoded, in partition order."""
    return [orjson.loads(r.value) for r in read_to_end(settings.kafka_endpoint, topic, timeout)]
