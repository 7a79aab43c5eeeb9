"""Helpers for pipeline tests: publish feeds, wait for the database, read output topics."""

from __future__ import annotations

import time
from collections.abc import Iterable

import orjson

from optimerge.demo import DemoDocument, build_documents, load_sample
from optimerge.settings import Settings
from schemas import ExtractionResult
from storage.db import connect
from storage.patients import import_patients
from streams.producer import EventProducer
from streams.reader import read_to_end
from streams.topics import Topics


def demo_feed(settings: Settings, count: int, seed: int = 11) -> list[DemoDocument]:
    """Build a feed from the Synthea sample and load its patients into the registry."""
    assert settings.database_url
    sample = load_sample()
    with connect(settings.database_url) as conn:
        import_patients(conn, sample.patients)
    return build_documents(sample, count, seed=seed)


def publish(settings: Settings, results: Iterable[ExtractionResult]) -> int:
    assert settings.kafka_bootstrap_servers
    topic = Topics(settings.topic_prefix).extraction_results
    n = 0
    with EventProducer(settings.kafka_bootstrap_servers) as producer:
        for result in results:
            producer.send(topic, result.model_dump_json().encode(), key=result.patient_id)
            n += 1
    return n


def wait_until_processed(settings: Settings, expected: int, timeout: float = 180.0) -> None:
    """Wait until `expected` documents are COMPLETE or FAILED."""
    assert settings.database_url
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


def read_topic(settings: Settings, topic: str, timeout: float = 10.0) -> list[dict]:
    """Every message currently on `topic`, decoded, in partition order."""
    assert settings.kafka_bootstrap_servers
    return [
        orjson.loads(r.value) for r in read_to_end(settings.kafka_bootstrap_servers, topic, timeout)
    ]
