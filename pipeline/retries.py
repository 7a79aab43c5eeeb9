"""Retrying dead letters through the stream (docs/contract.md#dead-letters): each retry is
first written with its audit entry in one transaction, under the patient's lock and through
storage/audit.py's one append path, as every change is; then the letter is published to its
source topic with headers naming the letter, the operator and the retry; then where it landed
is noted, so its outcome can be told. A retry Kafka did not take is marked not sent (its audit
entry stays: the request was made)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg

from domain.audit_keys import AuditKeyring
from domain.retry_audit import retry_entry
from schemas.events import Clock, utc_now
from storage import dlq_retries
from storage.audit import append_audit
from storage.db import transaction
from storage.documents import lock_patients
from storage.errors import describe_error
from streams.dead_letters import Replay, StoredLetter, replay_each
from streams.security import Kafka

# Runs fn(conn, *args) on a connection: the app's pool, or a fresh connection for the CLI.
RunDb = Callable[..., Any]


class RetryNotSentError(RuntimeError):
    pass


@dataclass(frozen=True, slots=True)
class RetryRequest:
    stored: StoredLetter
    requested_by: str
    retry_id: uuid.UUID
    # An admin's corrected event instead of the stored payload (one letter only).
    fixed_payload: bytes | None = None

    def value(self) -> bytes:
        if self.fixed_payload is not None:
            return self.fixed_payload
        return self.stored.letter.payload_bytes_as_received()

    def document_id(self) -> str | None:
        """The letter's document, or the one the sent event names (a too_large letter was
        never parsed, yet its event may well name its document)."""
        if self.stored.letter.document_id:
            return self.stored.letter.document_id
        try:
            found = orjson.loads(self.value()).get("document_id")
        except (orjson.JSONDecodeError, AttributeError):
            return None
        return found if isinstance(found, str) and found else None


def record_retries(
    conn: psycopg.Connection,
    requests: Sequence[RetryRequest],
    keyring: AuditKeyring,
    clock: Clock = utc_now,
) -> None:
    """The retries and their audit entries, in one transaction."""
    now = clock()
    entries = [
        e
        for r in requests
        if (
            e := retry_entry(
                r.stored.letter.model_copy(update={"document_id": r.document_id()}),
                r.stored.ref,
                r.retry_id,
                r.requested_by,
                r.fixed_payload is not None,
                now,
            )
        )
        is not None
    ]
    with transaction(conn) as cur:
        locked = lock_patients(cur, [e.patient_id for e in entries])
        append_audit(cur, locked, entries, keyring)
        dlq_retries.insert_retries(
            cur,
            [
                dlq_retries.RetryRow(
                    r.retry_id,
                    r.stored.ref,
                    r.stored.letter.event_id,
                    r.stored.letter.error_kind,
                    r.stored.letter.source_topic,
                    r.document_id(),
                    r.stored.letter.key,
                    r.requested_by,
                    r.fixed_payload is not None,
                    now,
                )
                for r in requests
            ],
        )


def skipped_fragments(letters: Sequence[StoredLetter]) -> list[StoredLetter]:
    """The letters a retry without a fixed payload leaves out: their payload is a fragment."""
    return [s for s in letters if s.letter.payload_truncated]


def retry_dead_letters(
    run_db: RunDb,
    kafka: Kafka,
    letters: Sequence[StoredLetter],
    requested_by: str,
    *,
    keyring: AuditKeyring,
    fixed_payload: bytes | None = None,
    clock: Clock = utc_now,
) -> list[RetryRequest]:
    if fixed_payload is not None and len(letters) != 1:
        raise ValueError(f"a fixed payload replaces exactly one letter; {len(letters)} given")
    # A letter that kept only the first bytes of its message would only be refused again:
    # it goes back with a fixed payload or not at all (`skipped_fragments` names them).
    requests = [
        RetryRequest(stored, requested_by, uuid.uuid4(), fixed_payload)
        for stored in letters
        if fixed_payload is not None or not stored.letter.payload_truncated
    ]
    if not requests:
        return []
    run_db(record_retries, requests, keyring, clock)
    try:
        landed = replay_each(
            kafka,
            [Replay(r.stored, r.value(), str(r.retry_id), r.requested_by) for r in requests],
        )
    except Exception as exc:
        run_db(dlq_retries.mark_not_sent, [r.retry_id for r in requests])
        raise RetryNotSentError(f"Kafka did not take the retries: {describe_error(exc)}") from exc
    run_db(dlq_retries.mark_sent, {uuid.UUID(k): v for k, v in landed.items()})
    return requests
