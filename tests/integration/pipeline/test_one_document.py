"""One document end to end: published to Kafka (by kcat and by us), merged by a real worker."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable

import orjson
import pytest

from config import ResolvedSettings
from optimerge.infra.secrets import LocalSecrets
from storage.db import connect
from storage.patients import import_patients
from storage.read import document_state, read_patient_bundle
from streams.acls import EXTRACTOR
from streams.producer import EventProducer
from streams.security import client_options
from streams.topics import Topics

PATIENT = {
    "resourceType": "Patient",
    "id": "8b7c1d6e-2f3a-4b5c-9d0e-1f2a3b4c5d6e",
    "name": [{"use": "official", "family": "Smith", "given": ["John", "Q"]}],
    "birthDate": "1970-04-03",
}


def event(document_id: str, confidence: float = 0.93) -> dict:
    return {
        "event_id": "0b5e2a7e-8a3b-4a0e-9d8e-0c2f4f7f1a11",
        "schema_version": 1,
        "document_id": document_id,
        "patient_id": PATIENT["id"],
        "extraction_version": 1,
        "uploaded_at": "2026-11-22T10:00:00Z",
        "extracted_at": "2026-11-22T10:00:05Z",
        "model": {"name": "extractor-large", "version": "2026.10", "is_fallback": False},
        "confidence": confidence,
        "patient": {
            "name": {"family": "Smith", "given": ["John", "Q"]},
            "birth_date": "1970-04-03",
        },
        "document": {"title": "Discharge summary", "type": "discharge-summary", "pages": 3},
        "resources": [
            {
                "resourceType": "Condition",
                "code": {"text": "Hypertension"},
                "subject": {"reference": f"Patient/{PATIENT['id']}"},
            },
            {
                "resourceType": "Condition",
                "code": {"text": "Asthma"},
                "subject": {"reference": f"Patient/{PATIENT['id']}"},
            },
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "BMI"},
                "subject": {"reference": f"Patient/{PATIENT['id']}"},
            },
        ],
        "source_snippets": {"0": [{"text": "History of hypertension", "page": 1}]},
    }


def wait_for_document(database_url: str, document_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    with connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            state = document_state(conn, document_id)
            if state is not None and state.processing_status in ("COMPLETE", "FAILED"):
                return state
            time.sleep(0.2)
    raise AssertionError(f"document {document_id} not processed within {timeout} s")


def test_document_published_by_kcat_lands_in_the_bundle(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat is not installed: run scripts/setup.sh (Debian package kcat)")
    with connect(settings.migration_url) as conn:
        import_patients(conn, [PATIENT])
    worker = start_worker()
    line = PATIENT["id"].encode() + b"\t" + orjson.dumps(event("doc-kcat")) + b"\n"
    # As README shows it: the extractor's properties file (`optimerge infra env` prints it).
    properties = LocalSecrets(settings.infra.state_dir).kcat_properties(EXTRACTOR)
    subprocess.run(
        [
            kcat,
            "-P",
            "-b",
            settings.kafka_bootstrap_servers or "",
            "-F",
            str(properties),
            "-t",
            Topics(settings.topic_prefix).extraction_results.name,
            "-K",
            "\t",
        ],
        input=line,
        check=True,
        timeout=30,
    )
    state = wait_for_document(settings.database_url, "doc-kcat")
    assert state.processing_status == "COMPLETE", worker.log_text()[-3000:]
    assert state.review_status == "auto_approved"
    with connect(settings.migration_url) as conn:
        bundle = read_patient_bundle(conn, PATIENT["id"])
    assert bundle is not None
    sources = {e["resource"].get("meta", {}).get("source") for e in bundle["entry"]}
    assert "document_doc-kcat" in sources
    assert worker.stop() == 0


def test_worker_emits_status_and_flagged_events(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    from confluent_kafka import Consumer

    topics = Topics(settings.topic_prefix)
    start_worker()
    with EventProducer(settings.kafka_endpoint) as producer:
        producer.send(
            topics.extraction_results.name, orjson.dumps(event("doc-low", 0.5)), key=PATIENT["id"]
        )
    wait_for_document(settings.database_url, "doc-low")
    consumer = Consumer(
        {
            **client_options(settings.kafka_endpoint),
            "group.id": f"optimerge-test-reader-{settings.topic_prefix}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topics.document_status.name, topics.flagged_items.name])
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + 30
    while len(seen) < 2 and time.monotonic() < deadline:
        msg = consumer.poll(0.5)
        if msg is not None and not msg.error():
            seen[msg.topic()] = orjson.loads(msg.value())
    consumer.close()
    status = seen[topics.document_status.name]
    assert status["status"] == "COMPLETE" and status["review_status"] == "flagged"
    flagged = seen[topics.flagged_items.name]
    assert flagged["kind"] == "flagged"
    assert "unknown_patient" in {r["rule"] for r in flagged["flag_reasons"]}


def test_sigterm_stops_the_worker_within_10_s_with_offsets_committed(
    settings: ResolvedSettings, start_worker: Callable, as_principal: Callable
) -> None:
    from confluent_kafka import Consumer, TopicPartition

    from streams.app import group_id

    from ._helpers import demo_feed, publish, wait_until_processed

    docs = demo_feed(settings, 200, seed=31)
    worker = start_worker()
    publish(settings, (d.result for d in docs))
    wait_until_processed(settings, len(docs))
    time.sleep(1.5)  # let the worker deliver the outputs of its last batch
    started = time.monotonic()
    assert worker.stop(timeout=10) == 0
    assert time.monotonic() - started < 10
    topic = Topics(settings.topic_prefix).extraction_results.name
    consumer = Consumer(
        {**client_options(as_principal("worker").kafka_endpoint), "group.id": group_id(settings)}
    )
    try:
        parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
        committed = consumer.committed(parts, timeout=10)
        for tp in committed:
            _, high = consumer.get_watermark_offsets(tp, timeout=10)
            assert tp.offset == high or (high == 0 and tp.offset < 0), (tp, high)
    finally:
        consumer.close()
