"""Only signed actions are applied (pipeline/signatures.py), in process on the real PostgreSQL:
every way an action can fail its signature is refused with outcome `invalid`, a fixed reason
and a dead letter, and leaves the document and the audit trail as they were."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest

from domain.signing import SigningKey
from pipeline.signatures import BAD_SIGNATURE, NOT_SIGNED, REPLAYED, TOO_OLD
from schemas import ActorKind, ReviewAction
from storage.db import connect
from storage.patients import import_patients
from storage.read import document_state
from tests.harness import NOW, Harness

from ..storage._factories import extraction
from .test_in_process import PATIENT, PID, action


@pytest.fixture
def harness(database_url: str, worker_database_url: str) -> Iterator[Harness]:
    with connect(database_url) as conn:
        import_patients(conn, [PATIENT])
    h = Harness(database_url, worker_url=worker_database_url)
    h.run(h.extraction(extraction("d1", PID, confidence=0.5)))  # flagged, version 1
    yield h
    h.close()


def _audit_count(harness: Harness) -> int:
    with connect(harness.settings.migration_url) as conn:
        row = conn.execute("SELECT count(*) FROM audit_log").fetchone()
    return row[0] if row else 0


def _refused(harness: Harness, signed: ReviewAction, reason: str) -> None:
    before = _audit_count(harness)
    harness.run(harness.action(signed, sign=False))
    status = harness.statuses()[-1]
    assert (status.action_id, status.outcome, status.reason) == (
        signed.action_id,
        "invalid",
        reason,
    )
    assert status.status == "FAILED" and status.conflict
    letter = harness.dead_letters()[-1]
    assert letter.error_kind == "signature" and letter.document_id == "d1"
    assert str(signed.action_id) in letter.payload
    with connect(harness.settings.migration_url) as conn:
        state = document_state(conn, "d1")
    assert state is not None and (state.version, state.review_status) == (1, "flagged")
    assert _audit_count(harness) == before


def test_an_unsigned_action_is_refused(harness: Harness) -> None:
    _refused(harness, action("d1", "rollback", 1), NOT_SIGNED)
    counted = harness.registry.get_sample_value(
        "optimerge_dead_letters_total", {"kind": "signature"}
    )
    assert counted == 1


def test_a_key_nobody_trusts_or_a_changed_field_is_refused(harness: Harness) -> None:
    stranger = SigningKey.generate().sign(action("d1", "rollback", 1, requested_at=NOW))
    _refused(harness, stranger, BAD_SIGNATURE)
    assert "unknown_key" in harness.dead_letters()[-1].reason
    # Signed by the app for ana, then rewritten to name someone else: the signature breaks.
    genuine = harness.sign(action("d1", "mark_correct", 1))
    _refused(harness, genuine.model_copy(update={"reviewer": "bob"}), BAD_SIGNATURE)
    assert "bad_signature" in harness.dead_letters()[-1].reason
    tampered = harness.sign(action("d1", "mark_correct", 1, note="checked"))
    _refused(harness, tampered.model_copy(update={"note": "other"}), BAD_SIGNATURE)


def test_the_apps_key_cannot_sign_an_operators_action(harness: Harness) -> None:
    posing = action("d1", "rollback", 1, actor_kind=ActorKind.OPERATOR, requested_at=NOW)
    _refused(harness, harness.keys[ActorKind.REVIEWER].sign(posing), BAD_SIGNATURE)
    assert "wrong_kind" in harness.dead_letters()[-1].reason


def test_an_action_signed_long_before_it_was_sent_is_refused(harness: Harness) -> None:
    old = action("d1", "rollback", 1, requested_at=NOW - timedelta(minutes=6))
    _refused(harness, harness.keys[ActorKind.REVIEWER].sign(old), TOO_OLD)
    future = action("d1", "rollback", 1, requested_at=NOW + timedelta(minutes=2))
    _refused(harness, harness.keys[ActorKind.REVIEWER].sign(future), TOO_OLD)


def test_a_replay_is_refused_and_a_redelivery_answered_as_before(harness: Harness) -> None:
    signed = harness.sign(action("d1", "mark_correct", 1))
    first = harness.action(signed, sign=False)
    harness.run(first)
    assert harness.statuses()[-1].outcome == "applied"
    entries = _audit_count(harness)

    harness.run(first)  # the same record again (a crash before the ack): the first answer
    assert harness.statuses()[-1].outcome == "applied"
    assert harness.statuses()[-1].event_id == harness.statuses()[-2].event_id

    # The same bytes published again (another offset): a replay, refused.
    harness.run(harness.action(signed, sign=False))
    status = harness.statuses()[-1]
    assert (status.outcome, status.reason) == ("invalid", REPLAYED)
    assert status.event_id != harness.statuses()[-2].event_id  # not mistaken for the first
    assert "first read at" in harness.dead_letters()[-1].reason
    assert _audit_count(harness) == entries


def test_the_audit_entry_names_the_verified_actor_and_key(harness: Harness) -> None:
    harness.run(harness.action(action("d1", "mark_correct", 1, reviewer="ana")))
    with connect(harness.settings.migration_url) as conn:
        entry = conn.execute(
            "SELECT actor_kind, actor, details->>'signed_by' FROM audit_log "
            "WHERE action = 'mark_correct'"
        ).fetchone()
    assert entry == ("reviewer", "ana", harness.keys[ActorKind.REVIEWER].key_id)
