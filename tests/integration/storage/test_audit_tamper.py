"""Issue 13's attacks on the audit trail, on the real PostgreSQL: as the worker's and as the
app's role each attempt is refused by PostgreSQL, or reported by `optimerge audit verify`; as
the owner (who may do anything in the database) each is reported."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson
import psycopg
import pytest
from psycopg import errors

from config import ResolvedSettings
from domain.audit_verify import BreakKind, VerifyReport
from pipeline.audit_check import load_checkpoints, verify_audit
from pipeline.audit_checkpointer import AuditCheckpointer
from pipeline.service import MergeService, judge_with
from storage.db import connect
from streams.acls import CHECKPOINTER
from streams.producer import EventProducer
from tests.audit_helpers import shared_keyring
from tests.cli_runner import cli_env, run_optimerge
from tests.integration.storage._factories import extraction, incoming

PATIENT = "p-tamper"
ROLES = ("worker", "app")


@dataclass
class Trail:
    settings: ResolvedSettings
    # The Kafka principal of `optimerge audit checkpoint`, the one writer of audit.checkpoints.
    checkpointer: ResolvedSettings

    def url(self, role: str) -> str:
        return {
            "worker": self.settings.database_url,
            "app": self.settings.app_url,
            "owner": self.settings.migration_url,
        }[role]

    def verify(self, *, full: bool = False) -> VerifyReport:
        keyring = shared_keyring()
        checkpoints = load_checkpoints(self.settings, keyring)
        with connect(self.settings.app_url) as conn:
            return verify_audit(conn, keyring, checkpoints, full=full)


@pytest.fixture
def trail(settings: ResolvedSettings, as_principal: Callable[[str], ResolvedSettings]) -> Trail:
    """Three merges of one patient, written as the worker role, verified and checkpointed."""
    service = MergeService(judge_with(settings.rules), keyring=shared_keyring())
    with connect(settings.migration_url) as conn:
        for n in range(3):
            service.merge(conn, [incoming(extraction(f"doc-{n}", PATIENT))])
    checkpointer = as_principal(CHECKPOINTER)
    first = AuditCheckpointer(checkpointer, shared_keyring()).run_once()
    assert first.report.ok and first.published == 1
    return Trail(settings, checkpointer)


def _as(url: str, statement: str, params: tuple[object, ...] = ()) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)


def _owner(trail: Trail, *statements: str) -> None:
    """Statements in one transaction as the owner, triggers out of the way meanwhile."""
    with psycopg.connect(trail.url("owner")) as conn:
        conn.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
        for statement in statements:
            conn.execute(statement)
        conn.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")


def _only_break(report: VerifyReport) -> tuple[str, int, BreakKind]:
    [b] = report.breaks
    return b.patient_id, b.seq, b.kind


@pytest.mark.parametrize("role", ROLES)
def test_disabling_a_trigger_is_refused(trail: Trail, role: str) -> None:
    for statement in (
        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_delete",
        "DROP TRIGGER audit_log_no_truncate ON audit_log",
        "CREATE OR REPLACE FUNCTION audit_log_is_append_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$",
    ):
        with pytest.raises(errors.InsufficientPrivilege):
            _as(trail.url(role), statement)
    # The owner can; what it then changes is reported.
    _owner(
        trail, f"UPDATE audit_log SET actor = 'mallory' WHERE seq = 2 AND patient_id = '{PATIENT}'"
    )
    assert _only_break(trail.verify(full=True)) == (PATIENT, 2, BreakKind.CONTENT)


@pytest.mark.parametrize("role", ROLES)
def test_updating_an_entry_is_refused(trail: Trail, role: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        _as(trail.url(role), "UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    with pytest.raises(errors.InsufficientPrivilege):
        _as(
            trail.url(role),
            "UPDATE patients SET audit_head = 'x' WHERE patient_id = %s",
            (PATIENT,),
        )
    assert trail.verify().ok


@pytest.mark.parametrize("role", ROLES)
def test_deleting_the_newest_entries_and_resetting_the_head_is_refused(
    trail: Trail, role: str
) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        _as(trail.url(role), "DELETE FROM audit_log WHERE seq > 1")
    with pytest.raises(errors.InsufficientPrivilege):
        _as(trail.url(role), "UPDATE patients SET audit_seq = 1 WHERE patient_id = %s", (PATIENT,))
    # The owner can: the checkpoint (entry 3) then says what is missing.
    _owner(
        trail,
        f"DELETE FROM audit_log WHERE patient_id = '{PATIENT}' AND seq > 1",
        "UPDATE patients SET audit_seq = 1, audit_head = "
        f"(SELECT hash FROM audit_log WHERE patient_id = '{PATIENT}' AND seq = 1)",
    )
    for full in (False, True):
        assert _only_break(trail.verify(full=full)) == (PATIENT, 2, BreakKind.TRUNCATED)


@pytest.mark.parametrize("role", ROLES)
def test_inserting_a_forged_entry_is_refused_or_reported(trail: Trail, role: str) -> None:
    with pytest.raises(errors.InsufficientPrivilege):
        _as(
            trail.url(role),
            "INSERT INTO audit_log (patient_id, seq, action, actor_kind, actor, details, "
            "occurred_at, prev_hash, hash) VALUES (%s, 4, 'rollback', 'reviewer', 'mallory', "
            "'{}', now(), '', '')",
            (PATIENT,),
        )
    with psycopg.connect(trail.url(role), autocommit=True) as conn:
        head = conn.execute(
            "SELECT audit_seq, audit_head FROM patients WHERE patient_id = %s", (PATIENT,)
        ).fetchone()
        assert head is not None
        seq, prev = head
        # audit_append refuses what does not continue the chain, or carries no MAC...
        with pytest.raises(errors.IntegrityConstraintViolation):
            _forge(conn, seq + 2, prev, key_id="0" * 16)
        with pytest.raises(errors.IntegrityConstraintViolation):
            _forge(conn, seq + 1, prev, key_id=None)
        # ... but cannot check a MAC: the key is not in the database.
        _forge(conn, seq + 1, prev, key_id="0" * 16)
    run = run_optimerge("audit", "verify", **cli_env(trail.settings))
    assert run.returncode == 1, run.stderr
    report = orjson.loads(run.stdout)
    assert report["first_bad_entry"] == {"patient_id": PATIENT, "seq": 4}
    assert report["breaks"][0]["kind"] == "unknown_key"


def _forge(conn: psycopg.Connection, seq: int, prev: str, *, key_id: str | None) -> None:
    entry = {
        "patient_id": PATIENT,
        "seq": seq,
        "document_id": None,
        "action": "rollback",
        "actor_kind": "reviewer",
        "actor": "mallory",
        "details": {},
        "occurred_at": datetime.now(UTC).isoformat(),
        "prev_hash": prev,
        "hash": "f" * 64,
        "key_id": key_id,
    }
    conn.execute("SELECT audit_append(%s::jsonb)", (orjson.dumps([entry]).decode(),))


@pytest.mark.parametrize("role", ROLES)
def test_replacing_the_whole_chain_consistently_is_refused_or_reported(
    trail: Trail, role: str
) -> None:
    for statement in ("TRUNCATE audit_log", "DELETE FROM audit_log"):
        with pytest.raises(errors.InsufficientPrivilege):
            _as(trail.url(role), statement)
    # The owner can: a chain recomputed consistently (unkeyed: the key is not theirs) differs
    # from the signed checkpoint, and carries no MAC.
    _owner(trail, *_consistent_forgery(trail))
    assert _only_break(trail.verify()) == (PATIENT, 3, BreakKind.REWRITTEN)
    assert _only_break(trail.verify(full=True))[1:] == (1, BreakKind.UNKEYED)


def _consistent_forgery(trail: Trail) -> list[str]:
    from domain.audit import AuditAction, AuditEntry, chain_hash
    from schemas import ActorKind

    prev, statements = "", [f"DELETE FROM audit_log WHERE patient_id = '{PATIENT}'"]
    for seq in (1, 2, 3):
        at = datetime(2026, 1, 1, tzinfo=UTC)
        entry = AuditEntry(
            PATIENT, None, AuditAction.MARK_CORRECT, ActorKind.REVIEWER, "mallory", {}, at
        )
        digest = chain_hash(prev, seq, entry)
        statements.append(
            "INSERT INTO audit_log (patient_id, seq, action, actor_kind, actor, details, "
            f"occurred_at, prev_hash, hash) VALUES ('{PATIENT}', {seq}, 'mark_correct', "
            f"'reviewer', 'mallory', '{{}}', '{at.isoformat()}', '{prev}', '{digest}')"
        )
        prev = digest
    statements.append(
        f"UPDATE patients SET audit_seq = 3, audit_head = '{prev}' WHERE patient_id = '{PATIENT}'"
    )
    return statements


def test_a_checkpoint_without_the_key_is_reported_as_forged(trail: Trail) -> None:
    forged = {
        "patient_id": PATIENT,
        "seq": 1,
        "head": "0" * 64,
        "checkpointed_at": datetime.now(UTC).isoformat(),
        "key_id": "0" * 16,
        "signature": "0" * 64,
        "event_id": str(uuid.uuid4()),
    }
    # Written with the checkpointer's Kafka password, but without the audit key.
    topic = trail.settings.topic_prefix + "audit.checkpoints"
    with EventProducer(trail.checkpointer.kafka_endpoint) as producer:
        producer.send(topic, orjson.dumps(forged), key=PATIENT)
    report = trail.verify()
    assert [(b.patient_id, b.kind) for b in report.breaks] == [
        (PATIENT, BreakKind.FORGED_CHECKPOINT)
    ]
