"""Acceptance, on the real broker with a real worker: an action with a missing, forged or
replayed signature is refused on document.status (outcome `invalid`), dead-lettered, and never
applied. Sent with the app's Kafka credentials: what someone who stole them could do."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from config import ResolvedSettings
from domain.signing import SigningKey
from pipeline.signatures import BAD_SIGNATURE, NOT_SIGNED, REPLAYED
from schemas import ActorKind, ReviewAction, ReviewActionKind
from storage.db import connect
from storage.patients import import_patients
from streams.producer import EventProducer
from streams.topics import Topics
from tests.cli_runner import cli_env, run_optimerge
from tests.signing import key_of, sign_as

from ._helpers import read_topic
from .test_one_document import PATIENT, event, wait_for_document


def _merged(settings: ResolvedSettings, start_worker: Callable, as_principal: Callable) -> None:
    with connect(settings.migration_url) as conn:
        import_patients(conn, [PATIENT])
    start_worker()
    extractor = as_principal("extractor")
    topic = Topics(settings.topic_prefix).extraction_results.name
    with EventProducer(extractor.kafka_endpoint) as producer:
        producer.send(topic, orjson.dumps(event("doc-s", confidence=0.5)), key=PATIENT["id"])
    wait_for_document(settings.migration_url, "doc-s")


def _rollback(**changes: object) -> ReviewAction:
    action = ReviewAction(
        document_id="doc-s",
        patient_id=PATIENT["id"],
        action="rollback",
        reviewer="ana",
        expected_version=1,
    )
    return action.model_copy(update=changes)


def _send(as_principal: Callable, value: bytes, topics: Topics) -> None:
    with EventProducer(as_principal("app").kafka_endpoint) as producer:
        producer.send(topics.review_actions.name, value, key=PATIENT["id"])


def _outcomes(settings: ResolvedSettings, action: ReviewAction, count: int) -> list[dict]:
    topics = Topics(settings.topic_prefix)
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        found = [
            s
            for s in read_topic(settings, topics.document_status.name)
            if s.get("action_id") == str(action.action_id)
        ]
        if len(found) >= count:
            return found
        time.sleep(0.3)
    raise AssertionError(f"fewer than {count} outcome(s) of {action.action_id} within 40 s")


def _assert_never_applied(settings: ResolvedSettings, reason: str, outcome: dict) -> None:
    assert (outcome["outcome"], outcome["reason"], outcome["status"]) == (
        "invalid",
        reason,
        "FAILED",
    )
    letters = read_topic(settings, Topics(settings.topic_prefix).dlq.name)
    assert [lt["error_kind"] for lt in letters] == ["signature"]
    assert letters[0]["document_id"] == "doc-s"
    with connect(settings.migration_url) as conn:
        row = conn.execute(
            "SELECT version, review_status, "
            "(SELECT count(*) FROM resources WHERE document_id = 'doc-s'), "
            "(SELECT count(*) FROM audit_log WHERE action = 'rollback') "
            "FROM documents WHERE document_id = 'doc-s'"
        ).fetchone()
    assert row == (1, "flagged", 3, 0), "the action must not have been applied"


def test_an_unsigned_action_is_refused_and_dead_lettered(
    settings: ResolvedSettings, start_worker: Callable, as_principal: Callable
) -> None:
    _merged(settings, start_worker, as_principal)
    unsigned = _rollback()
    _send(as_principal, unsigned.model_dump_json().encode(), Topics(settings.topic_prefix))
    [outcome] = _outcomes(settings, unsigned, 1)
    _assert_never_applied(settings, NOT_SIGNED, outcome)


def test_a_forged_signature_is_refused_and_dead_lettered(
    settings: ResolvedSettings, start_worker: Callable, as_principal: Callable
) -> None:
    _merged(settings, start_worker, as_principal)
    # Signed by a key the worker does not trust, in the name of a real reviewer.
    forged = SigningKey.generate().sign(_rollback())
    _send(as_principal, forged.model_dump_json().encode(), Topics(settings.topic_prefix))
    [outcome] = _outcomes(settings, forged, 1)
    _assert_never_applied(settings, BAD_SIGNATURE, outcome)


def test_a_replayed_action_is_refused_and_dead_lettered(
    settings: ResolvedSettings, start_worker: Callable, as_principal: Callable
) -> None:
    _merged(settings, start_worker, as_principal)
    topics = Topics(settings.topic_prefix)
    mark = sign_as(settings, _rollback(action=ReviewActionKind.MARK_CORRECT))
    _send(as_principal, mark.model_dump_json().encode(), topics)
    [applied] = _outcomes(settings, mark, 1)
    assert applied["outcome"] == "applied"
    # The same signed bytes, published again: refused, and the document stays at version 2.
    _send(as_principal, mark.model_dump_json().encode(), topics)
    replay = _outcomes(settings, mark, 2)[1]
    assert (replay["outcome"], replay["reason"]) == ("invalid", REPLAYED)
    letters = read_topic(settings, topics.dlq.name)
    assert [(lt["error_kind"], lt["document_id"]) for lt in letters] == [("signature", "doc-s")]
    assert "replayed" in letters[0]["reason"]
    with connect(settings.migration_url) as conn:
        row = conn.execute(
            "SELECT version, (SELECT count(*) FROM audit_log WHERE action = 'mark_correct') "
            "FROM documents WHERE document_id = 'doc-s'"
        ).fetchone()
    assert row == (2, 1)


def test_publish_review_signs_unsigned_actions_with_the_operators_key(
    settings: ResolvedSettings, start_worker: Callable, as_principal: Callable, tmp_path
) -> None:
    _merged(settings, start_worker, as_principal)
    unsigned = _rollback(reviewer="ops-oncall")
    path = tmp_path / "actions.jsonl"
    path.write_text(unsigned.model_dump_json() + "\n")
    env = cli_env(settings)  # the operator, with the operator's key
    done = run_optimerge("publish", "--review", str(path), **env)
    assert done.returncode == 0, done.stderr
    [outcome] = _outcomes(settings, unsigned, 1)
    assert outcome["outcome"] == "applied"
    with connect(settings.migration_url) as conn:
        entry = conn.execute(
            "SELECT actor_kind, actor, details->>'signed_by' FROM audit_log "
            "WHERE action = 'rollback'"
        ).fetchone()
    assert entry == ("operator", "ops-oncall", key_of(settings, ActorKind.OPERATOR).key_id)

    keyless = {k: v for k, v in env.items() if k != "OPTIMERGE_SIGNING__KEY_FILE"}
    refused = run_optimerge(
        "publish", "--review", str(path), **keyless, OPTIMERGE_SIGNING__KEY_FILE=""
    )
    assert refused.returncode == 1 and "only when signed" in refused.stderr
