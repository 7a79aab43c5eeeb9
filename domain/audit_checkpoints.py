"""What is signed besides the entries (pure): checkpoints of verified chain positions, kept on
the audit.checkpoints topic, and the record of each verification run the audit page shows
(docs/contract.md#audit-trail). Without the audit key neither can be forged; an old one can be
replayed, so readers keep the newest of each and say how old it is."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from domain.audit_keys import AuditKeyring, Purpose
from schemas.audit import AuditCheckpoint


@dataclass(frozen=True, slots=True)
class VerifiedHead:
    """A chain position a verification found intact: entries 1..seq, the last with MAC `head`."""

    patient_id: str
    seq: int
    head: str
    legacy_seq: int = 0


def _micros(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def checkpoint_payload(head: VerifiedHead, at: datetime) -> bytes:
    return orjson.dumps(
        {
            "patient_id": head.patient_id,
            "seq": head.seq,
            "head": head.head,
            "legacy_seq": head.legacy_seq,
            "checkpointed_at": _micros(at),
        },
        option=orjson.OPT_SORT_KEYS,
    )


def sign_checkpoint(keyring: AuditKeyring, head: VerifiedHead, at: datetime) -> AuditCheckpoint:
    key_id, signature = keyring.sign(Purpose.CHECKPOINT, checkpoint_payload(head, at))
    return AuditCheckpoint(
        patient_id=head.patient_id,
        seq=head.seq,
        head=head.head,
        legacy_seq=head.legacy_seq,
        checkpointed_at=at,
        key_id=key_id,
        signature=signature,
    )


def head_of(checkpoint: AuditCheckpoint) -> VerifiedHead:
    return VerifiedHead(
        checkpoint.patient_id, checkpoint.seq, checkpoint.head, checkpoint.legacy_seq
    )


def checkpoint_valid(keyring: AuditKeyring, checkpoint: AuditCheckpoint) -> bool:
    payload = checkpoint_payload(head_of(checkpoint), checkpoint.checkpointed_at)
    return keyring.check(Purpose.CHECKPOINT, checkpoint.key_id, payload, checkpoint.signature)


@dataclass(frozen=True, slots=True)
class Checkpoints:
    """The newest validly signed checkpoint of each patient, and the records that are forged."""

    newest: dict[str, AuditCheckpoint]
    forged: list[AuditCheckpoint]
    # Messages on the topic that are no checkpoint at all.
    unreadable: int = 0

    def head(self, patient_id: str) -> VerifiedHead | None:
        found = self.newest.get(patient_id)
        return head_of(found) if found is not None else None

    @property
    def newest_at(self) -> datetime | None:
        return max((c.checkpointed_at for c in self.newest.values()), default=None)


def newest_checkpoints(
    keyring: AuditKeyring, records: Iterable[AuditCheckpoint], *, unreadable: int = 0
) -> Checkpoints:
    """The highest seq per patient among valid records: a replayed older checkpoint never
    lowers what a newer one vouches for."""
    newest: dict[str, AuditCheckpoint] = {}
    forged: list[AuditCheckpoint] = []
    for record in records:
        if not checkpoint_valid(keyring, record):
            forged.append(record)
            continue
        have = newest.get(record.patient_id)
        if have is None or (record.seq, record.checkpointed_at) > (have.seq, have.checkpointed_at):
            newest[record.patient_id] = record
    return Checkpoints(newest, forged, unreadable)


def record_payload(record: dict[str, Any]) -> bytes:
    """The canonical bytes of a verification record (stored as they were signed)."""
    return orjson.dumps(record, option=orjson.OPT_SORT_KEYS)


def sign_record(keyring: AuditKeyring, record: dict[str, Any]) -> tuple[str, str, str]:
    """(text, key id, signature) of a verification record."""
    payload = record_payload(record)
    key_id, signature = keyring.sign(Purpose.VERIFICATION, payload)
    return payload.decode(), key_id, signature


def record_valid(keyring: AuditKeyring, text: str, key_id: str, signature: str) -> bool:
    return keyring.check(Purpose.VERIFICATION, key_id, text.encode(), signature)
