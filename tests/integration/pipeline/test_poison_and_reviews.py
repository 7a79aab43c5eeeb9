"""Poison input goes to the dead-letter topic and the worker keeps going; review actions are
applied in order with merges of the same patient; a stale one is refused on document.status."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

import orjson

from config import ResolvedSettings
from schemas import ReviewAction
from storage.db import connect
from storage.read import document_state
from streams.producer import EventProducer
from streams.topics import Topics
from tests.cli_runner import cli_env
from tests.signing import sign_as

from ._helpers import demo_feed, publish, read_topic, wait_until_processed


def _send_raw(settings: ResolvedSettings, items: list[tuple[str, bytes]]) -> None:
    topic = Topics(settings.topic_prefix).extraction_results.name
    with EventProducer(settings.kafka_endpoint) as producer:
        for key, value in items:
            producer.send(topic, value, key=key)


def test_poison_input_is_dead_lettered_and_a_fixed_replay_merges(
    settings: ResolvedSettings, start_worker: Callable, tmp_path
) -> None:
    [doc] = demo_feed(settings, 1, seed=21)
    good = doc.result.model_dump(mode="json")
    pid = doc.result.patient_id
    no_type = dict(good, document_id="poison-no-type", resources=[{"code": {"text": "x"}}])
    huge = dict(good, document_id="poison-huge", padding="x" * (5 * 1024 * 1024))
    worker = start_worker()
    _send_raw(
        settings,
        [
            (pid, b"{not json"),
            (pid, orjson.dumps({"document_id": "poison-schema", "confidence": "high"})),
            (pid, orjson.dumps(no_type)),
            (pid, orjson.dumps(huge)),
            (pid, orjson.dumps(good)),
        ],
    )
    wait_until_processed(settings, 1)
    deadline = time.monotonic() + 30
    letters: list[dict] = []
    while len(letters) < 4 and time.monotonic() < deadline:
        letters = read_topic(settings, Topics(settings.topic_prefix).dlq.name)
        time.sleep(0.2)
    kinds = sorted(letter["error_kind"] for letter in letters)
    assert kinds == ["invalid_json", "schema", "schema", "too_large"]
    assert any("resources[0] has no resourceType" in letter["reason"] for letter in letters)
    assert worker.proc.poll() is None, "the worker must keep running"
    fixed = dict(no_type, resources=[{"resourceType": "Condition", "code": {"text": "x"}}])
    fixed_path = tmp_path / "fixed.json"
    fixed_path.write_bytes(orjson.dumps(fixed))
    env = {**os.environ, **cli_env(settings)}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "optimerge",
            "dlq",
            "replay",
            "--document",
            "poison-no-type",
            "--fixed",
            str(fixed_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    wait_until_processed(settings, 2)
    with connect(settings.migration_url) as conn:
        state = document_state(conn, "poison-no-type")
    assert state is not None and state.processing_status == "COMPLETE"


def test_review_actions_apply_in_order_and_stale_ones_conflict(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    docs = demo_feed(settings, 60, seed=22)
    flagged = [d.result for d in docs if d.intended_reasons][:2]
    assert len(flagged) == 2
    start_worker()
    publish(settings, (d.result for d in docs))
    wait_until_processed(settings, len(docs))
    first, second = flagged
    actions = [
        ReviewAction(
            document_id=first.document_id,
            patient_id=first.patient_id,
            action="mark_correct",
            reviewer="ana",
            expected_version=1,
        ),
        ReviewAction(
            document_id=second.document_id,
            patient_id=second.patient_id,
            action="rollback",
            reviewer="ana",
            expected_version=1,
        ),
        # Stale: the reviewer saw version 1, but the first action made it version 2.
        ReviewAction(
            document_id=first.document_id,
            patient_id=first.patient_id,
            action="rollback",
            reviewer="bob",
            expected_version=1,
        ),
    ]
    topics = Topics(settings.topic_prefix)
    with EventProducer(settings.kafka_endpoint) as producer:
        for action in actions:
            producer.publish(topics.review_actions, sign_as(settings, action))
    deadline = time.monotonic() + 60
    by_action: dict[str, dict] = {}
    while len(by_action) < 3 and time.monotonic() < deadline:
        for event in read_topic(settings, topics.document_status.name):
            if event.get("action_id"):
                by_action[event["action_id"]] = event
        time.sleep(0.5)
    outcomes = [by_action[str(a.action_id)] for a in actions]
    assert [o["conflict"] for o in outcomes] == [False, False, True]
    assert "expected version 1, current version 2" in outcomes[2]["reason"]
    with connect(settings.migration_url) as conn:
        first_state = document_state(conn, first.document_id)
        second_state = document_state(conn, second.document_id)
        left = conn.execute(
            "SELECT count(*) FROM resources WHERE document_id = %s", (second.document_id,)
        ).fetchone()
    assert first_state is not None and first_state.review_status == "reviewed"
    assert second_state is not None and second_state.review_status == "rejected"
    assert left == (0,)


def test_a_document_holding_nul_is_refused_flagged_and_dead_lettered(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    docs = demo_feed(settings, 20, seed=23)
    bad = docs[5].result.model_copy(
        update={
            "document_id": "poison-nul",
            # PostgreSQL's jsonb cannot hold a NUL: refused at the edge, recorded on the document.
            "resources": [{"resourceType": "Condition", "code": {"text": "bad\u0000text"}}],
        }
    )
    start_worker()
    publish(settings, [*(d.result for d in docs[:10]), bad, *(d.result for d in docs[10:])])
    wait_until_processed(settings, 21)
    with connect(settings.migration_url) as conn:
        state = document_state(conn, "poison-nul")
        merged = conn.execute(
            "SELECT count(*) FROM documents WHERE processing_status = 'COMPLETE'"
        ).fetchone()
    assert state is not None
    assert state.processing_status == "FAILED"
    assert state.review_status == "flagged"
    assert state.flag_reasons[0].rule == "merge_error"
    assert merged == (20,)
    deadline = time.monotonic() + 30
    letters: list[dict] = []
    while not letters and time.monotonic() < deadline:
        letters = read_topic(settings, Topics(settings.topic_prefix).dlq.name)
        time.sleep(0.2)
    assert [(lt["error_kind"], lt["document_id"]) for lt in letters] == [("schema", "poison-nul")]
    assert "NUL (U+0000)" in letters[0]["reason"]
