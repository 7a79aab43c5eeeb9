"""The integration fuzz (issue 12): 5,000 malformed events from a grammar of bad inputs, mixed
with valid ones, through two real workers on the real broker. Every valid event is merged, every
malformed one is dead-lettered with its reason, none is unaccounted for, the consumer lag comes
back to zero, and no worker restarts."""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from confluent_kafka import Consumer, TopicPartition
from confluent_kafka import Producer as KafkaProducer

from config import ResolvedSettings
from optimerge.infra.secrets import LocalSecrets
from storage.db import connect
from streams.acls import WORKER
from streams.app import group_id
from streams.security import client_options
from streams.topics import MAX_MESSAGE_BYTES, Topics
from tests.fix_infra import principal_settings
from tests.unit.pipeline._grammar import GRAMMAR, unknown_fields, valid_extraction

from ._helpers import read_topic


def secrets_of(settings: ResolvedSettings) -> LocalSecrets:
    return LocalSecrets(settings.infra.state_dir)


MALFORMED = 5_000
VALID = 500
PATIENTS = [f"fuzz-{i:02d}" for i in range(20)]


def _feed(rng: random.Random) -> list[tuple[str, bytes, bytes | None, bool]]:
    """(label, value, key, valid) in a random order: the grammar round-robin, plus big ones."""
    events: list[tuple[str, bytes, bytes | None, bool]] = []
    names = sorted(GRAMMAR)
    for n in range(MALFORMED - 6):
        name = names[n % len(names)]
        value, key = GRAMMAR[name](rng, f"bad-{n:05d}")
        patient = rng.choice(PATIENTS).encode()
        events.append((name, value.replace(b"fuzz-patient", patient), _rekey(key, patient), False))
    for n, size in enumerate([3, 3, 3, 10, 10, 10]):
        # Big payloads: 3 MB and 10 MB (compressible, so some reach the worker at all).
        events.append(
            (
                f"{size}MB",
                b'{"document_id":"big-%d",' % n + b" " * size * 2**20 + b"}",
                PATIENTS[0].encode(),
                False,
            )
        )
    for n in range(VALID):
        patient = rng.choice(PATIENTS)
        if n % 5 == 0:
            value, _ = unknown_fields(rng, f"good-{n:04d}")
            value = value.replace(b"fuzz-patient", patient.encode())
        else:
            from schemas.exact_json import dumps_exact

            value = dumps_exact(valid_extraction(f"good-{n:04d}", patient))
        events.append(("valid", value, patient.encode(), True))
    rng.shuffle(events)
    return events


def _rekey(key: bytes | None, patient: bytes) -> bytes | None:
    if key is None or key == b"someone-else":
        return key
    return patient


def _publish(
    settings: ResolvedSettings, events: list[tuple[str, bytes, bytes | None, bool]]
) -> tuple[dict[tuple[int, int], tuple[str, bool]], Counter[str]]:
    topic = Topics(settings.topic_prefix).extraction_results.name
    producer = KafkaProducer(
        {
            **client_options(settings.kafka_endpoint),
            "compression.type": "lz4",
            "message.max.bytes": 16 * 2**20,
            "linger.ms": 20,
        }
    )
    where: dict[tuple[int, int], tuple[str, bool]] = {}
    refused: Counter[str] = Counter()

    def report(label: str, valid: bool) -> Callable[[Any, Any], None]:
        def delivered(err: Any, msg: Any) -> None:
            if err is not None:
                refused[f"{label}: {err.name()}"] += 1  # the broker refused it: never consumed
            else:
                where[(msg.partition(), msg.offset())] = (label, valid)

        return delivered

    for label, value, key, valid in events:
        while True:
            try:
                producer.produce(topic, value, key=key, on_delivery=report(label, valid))
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(120) == 0
    return where, refused


def _lag(settings: ResolvedSettings) -> int:
    topic = Topics(settings.topic_prefix).extraction_results.name
    consumer = Consumer(
        {
            # The workers' group: its committed offsets are the worker principal's to read.
            **client_options(
                principal_settings(settings, secrets_of(settings), WORKER).kafka_endpoint
            ),
            "group.id": group_id(settings),
        }
    )
    try:
        parts = [TopicPartition(topic, p) for p in range(settings.partitions)]
        committed = consumer.committed(parts, timeout=10)
        return sum(
            consumer.get_watermark_offsets(tp, timeout=10)[1] - max(tp.offset, 0)
            for tp in committed
        )
    finally:
        consumer.close()


@pytest.mark.timeout(600)
def test_5000_malformed_events_through_real_workers(
    settings: ResolvedSettings, start_worker: Callable, request: pytest.FixtureRequest
) -> None:
    assert MAX_MESSAGE_BYTES < 10 * 2**20
    workers = [start_worker(None, "--instance-id", f"fuzz-{i}") for i in range(2)]
    events = _feed(random.Random(12))
    started = time.monotonic()
    where, refused_by_broker = _publish(settings, events)
    expected_valid = {k for k, (_, valid) in where.items() if valid}
    expected_letters = {k for k, (_, valid) in where.items() if not valid}

    deadline = time.monotonic() + 300
    letters: dict[tuple[int, int], dict[str, Any]] = {}
    merged = 0
    dlq = Topics(settings.topic_prefix).dlq.name
    while time.monotonic() < deadline:
        with connect(settings.migration_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM documents WHERE document_id LIKE 'good-%%' "
                "AND processing_status = 'COMPLETE'"
            ).fetchone()
        merged = row[0] if row else 0
        if merged >= len(expected_valid):
            letters = {
                (x["source_partition"], x["source_offset"]): x
                for x in read_topic(settings, dlq, timeout=30)
            }
            if len(letters) >= len(expected_letters):
                break
        time.sleep(1)
    took = time.monotonic() - started

    assert merged == len(expected_valid) == VALID
    assert set(letters) == expected_letters, "every malformed event dead-lettered, once"
    assert all(letter["reason"] for letter in letters.values())
    lag_deadline = time.monotonic() + 30
    while (lag := _lag(settings)) and time.monotonic() < lag_deadline:
        time.sleep(1)
    assert lag == 0
    assert all(w.proc.poll() is None for w in workers), "no worker restarted or exited"
    kinds = Counter(letter["error_kind"] for letter in letters.values())
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(
            f"\n[fuzz] {len(where)} events consumed ({len(expected_letters)} malformed, "
            f"{len(expected_valid)} valid) in {took:.1f} s; dead letters by kind {dict(kinds)}; "
            f"refused by the broker before any worker saw them: {dict(refused_by_broker)}",
            file=sys.stderr,
        )
