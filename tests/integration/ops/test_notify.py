"""`optimerge notify` against a real Kafka and PostgreSQL and a local receiver that answers 500
on every third call: each flagged item is delivered exactly once per channel it is routed to,
across a restart and a redelivered item; digests and alerts once each; payloads without names."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config import ResolvedSettings
from domain.notifications import sign
from optimerge.infra.secrets import LocalSecrets
from storage.db import connect
from streams.acls import WORKER
from streams.consumers import read_to_end
from streams.producer import EventProducer
from streams.topics import Topics
from tests.cli_runner import cli_env
from tests.fix_infra import principal_settings

from ..pipeline._helpers import demo_feed, publish, wait_until_processed
from ._receiver import FlakyReceiver

SECRET = "receiver-shared-secret"
IDENTITY_RULES = ["name_mismatch", "birth_date_conflict", "unknown_patient", "no_identity"]


@pytest.fixture
def receiver() -> Iterator[FlakyReceiver]:
    r = FlakyReceiver()
    yield r
    r.close()


def _start_notifier(
    settings: ResolvedSettings, receiver: FlakyReceiver, log: Path
) -> subprocess.Popen[bytes]:
    channels = [
        {"name": "everyone", "url": f"{receiver.url}/all", "format": "json", "secret": SECRET},
        {
            "name": "identity",
            "url": f"{receiver.url}/identity",
            "format": "slack",
            "rules": IDENTITY_RULES,
            "kinds": ["flagged"],
        },
    ]
    env = {
        **os.environ,
        **cli_env(settings),  # the operator: reads flagged.items in its notify group
        "OPTIMERGE_NOTIFY__CHANNELS": json.dumps(channels),
        "OPTIMERGE_NOTIFY__APP_URL": "https://review.example",
        "OPTIMERGE_NOTIFY__DIGEST_AFTER_DAYS": "0",
        "OPTIMERGE_NOTIFY__ALERT_CHECK_SECONDS": "1",
        "OPTIMERGE_NOTIFY__BACKOFF_INITIAL_SECONDS": "0.05",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "optimerge", "notify"], env=env, stdout=out, stderr=out
        )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0


def _wait(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout} s"
        time.sleep(0.2)


def test_each_flagged_item_reaches_its_channels_exactly_once_despite_failures(
    settings: ResolvedSettings, start_worker: Callable, receiver: FlakyReceiver, tmp_path: Path
) -> None:
    docs = demo_feed(settings, 60, seed=22)
    worker = start_worker()
    publish(settings, (d.result for d in docs))
    wait_until_processed(settings, len(docs))
    assert worker.stop() == 0  # no worker alive: the notifier also raises that alert
    topics = Topics(settings.topic_prefix)
    flagged = {}
    for record in read_to_end(settings.kafka_endpoint, topics.flagged_items.name):
        event = topics.flagged_items.decode(record.value)
        if event.kind == "flagged":
            flagged[event.document_id] = ({r.rule.value for r in event.flag_reasons}, record.value)
    identity = {d for d, (rules, _) in flagged.items() if rules & set(IDENTITY_RULES)}
    assert 0 < len(identity) < len(flagged)
    with connect(settings.migration_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM documents WHERE review_status = 'flagged'"
        ).fetchone()
    assert row is not None and row[0] == len(flagged)

    log = tmp_path / "notify.log"
    notifier = _start_notifier(settings, receiver, log)
    try:
        _wait(
            "flagged items on both channels",
            lambda: (
                len(receiver.by_path("/all", "flagged")) >= len(flagged)
                and len(receiver.by_path("/identity", "flagged")) >= len(identity)
            ),
        )
        _wait(
            "the digest and the no-worker alert",
            lambda: (
                len(receiver.by_path("/all", "digest")) >= 1
                and len(receiver.by_path("/all", "alert")) >= 1
            ),
        )
    finally:
        _stop(notifier)

    # A flagged item redelivered on the topic (same event id), then a restarted notifier.
    some_document = sorted(flagged)[0]
    worker = principal_settings(settings, LocalSecrets(settings.infra.state_dir), WORKER)
    with EventProducer(worker.kafka_endpoint) as producer:  # outputs come from workers
        producer.send(topics.flagged_items.name, flagged[some_document][1], key="p")
    accepted_before = len(receiver.accepted)
    notifier = _start_notifier(settings, receiver, log)
    try:
        time.sleep(6)  # long enough to read the redelivered item and run the digest and alerts
    finally:
        _stop(notifier)

    assert receiver.failed > 0, "the receiver never failed: retries were not exercised"
    assert receiver.duplicates() == {}
    assert len(receiver.accepted) == accepted_before, log.read_text()[-3000:]
    everyone = receiver.by_path("/all", "flagged")
    assert sorted(r.json()["document_id"] for r in everyone) == sorted(flagged)
    slack = receiver.by_path("/identity", "flagged")
    assert len(slack) == len(identity)
    assert all(any(d in r.json()["text"] for d in identity) for r in slack)
    assert (
        receiver.by_path("/identity", "digest") == []
        and len(receiver.by_path("/all", "digest")) == 1
    )
    [alert] = receiver.by_path("/all", "alert")
    assert alert.json()["alert"] == "no_workers"

    for r in receiver.by_path("/all"):
        assert r.headers["X-Optimerge-Signature"] == sign(
            SECRET, r.headers["X-Optimerge-Timestamp"], r.body
        )
    names = {
        part
        for d in docs
        if d.result.patient and d.result.patient.name
        for part in [d.result.patient.name.family or "", *d.result.patient.name.given]
        if len(part) > 3
    }
    bodies = b"".join(r.body for r in receiver.accepted).decode()
    assert [n for n in names if n in bodies] == []
    with connect(settings.migration_url) as conn:
        logged = conn.execute("SELECT count(*) FROM notification_deliveries").fetchone()
    assert logged is not None and logged[0] == len(receiver.accepted)
    print(
        f"notify: {len(flagged)} flagged items ({len(identity)} routed to identity too); "
        f"{receiver.calls} calls, {receiver.failed} answered 500, {len(receiver.accepted)} "
        "accepted, 0 duplicates"
    )
