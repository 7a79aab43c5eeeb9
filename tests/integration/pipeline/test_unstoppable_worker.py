"""Issue 12 through a real worker on the real broker: the triggers that used to halt a worker
(and its partitions) for good are refused or dead-lettered, the next event of the same partition
is merged within seconds, and the worker still stops within 10 s of SIGTERM."""

from __future__ import annotations

import time
from collections.abc import Callable

from config import ResolvedSettings
from schemas import ReviewAction
from schemas.exact_json import dumps_exact
from storage.db import connect
from storage.read import document_state
from streams.producer import EventProducer
from streams.topics import Topics
from tests.unit.pipeline._grammar import valid_extraction

from ._helpers import read_topic

PID = "unstoppable-patient"


def _wait_for(settings: ResolvedSettings, document_id: str, timeout: float) -> float:
    started = time.monotonic()
    with connect(settings.migration_url, autocommit=True) as conn:
        while time.monotonic() - started < timeout:
            state = document_state(conn, document_id)
            if state is not None and state.processing_status == "COMPLETE":
                return time.monotonic() - started
            time.sleep(0.1)
    raise AssertionError(f"{document_id} was not merged within {timeout} s")


def test_poison_events_do_not_stop_the_partition_nor_the_worker(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    topics = Topics(settings.topic_prefix)
    worker = start_worker(None, "--instance-id", "solo")
    with EventProducer(settings.kafka_endpoint) as producer:
        producer.send(
            topics.extraction_results.name, dumps_exact(valid_extraction("d0", PID)), key=PID
        )
    _wait_for(settings, "d0", 90)
    note = ReviewAction(
        document_id="d0", patient_id=PID, action="mark_correct", reviewer="ana",
        expected_version=1, note="pasted from a PDF\x00",
    )  # fmt: skip
    deep = dumps_exact(valid_extraction("deep", PID)).replace(
        b'"resources":[{',
        b'"resources":[{"extension":' + b'{"x":[' * 300 + b"1" + b"]}" * 300 + b",",
        1,
    )
    with EventProducer(settings.kafka_endpoint) as producer:
        producer.publish(topics.review_actions, note)
        for value in (
            deep,
            b"\x00" * 1_500_000,
            dumps_exact(valid_extraction("late", PID, uploaded_at="9999-12-31T23:59:59-14:00")),
            dumps_exact(valid_extraction("big", PID, extraction_version=2**31)),
            dumps_exact(valid_extraction("after", PID)),
        ):
            producer.send(topics.extraction_results.name, value, key=PID)
    assert _wait_for(settings, "after", 30) < 30
    letters = {letter["error_kind"] for letter in read_topic(settings, topics.dlq.name)}
    assert letters == {"schema", "invalid_json"}
    with connect(settings.migration_url) as conn:
        traced = {
            doc: document_state(conn, doc).processing_status  # type: ignore[union-attr]
            for doc in ("deep", "late", "big")
        }
    assert traced == {"deep": "FAILED", "late": "FAILED", "big": "FAILED"}
    started = time.monotonic()
    assert worker.stop(timeout=10) == 0
    assert time.monotonic() - started < 10
