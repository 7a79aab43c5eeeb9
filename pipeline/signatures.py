"""Only signed review actions reach the merge service (docs/contract.md#signatures).

Each action of a batch is checked before it is handed over: its signature against the trusted
public keys (the key's kind must be the action's actor kind), its age (the broker's append
time against the signed time), and its receipt (an action_id first read at another offset is
a replay; at the same offset, a redelivery). A refused action is dead-lettered (`signature`)
and answered on document.status with outcome `invalid` and a fixed reason; nothing is applied."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import psycopg

from config import ResolvedSettings, SigningSettings
from domain.review_plan import ReviewOutcome
from domain.signing import Keyring, Problem, Refused, SigningKey, parse_trusted_keys
from domain.signing import body_digest as digest_of
from pipeline.decode import RawRecord, Rejected
from pipeline.letters import dead_letter
from pipeline.outputs import OutputEvent
from schemas import DeadLetter, DocumentStatusEvent, ProcessingStatus, ReviewAction
from schemas.events import Clock, deterministic_event_id, utc_now
from storage.action_receipts import Receipt, first_receipts
from storage.db import transaction
from streams.topics import Topics

log = logging.getLogger(__name__)

# Fixed texts, the same for everyone who reads document.status; the detail is in the letter.
NOT_SIGNED = "the action was refused: it is not signed (see the dead letter)"
BAD_SIGNATURE = "the action was refused: its signature is not valid (see the dead letter)"
REPLAYED = "the action was refused: it was received before (a replay; see the dead letter)"
TOO_OLD = (
    "the action was refused: it reached Kafka too long after it was signed (see the dead letter)"
)


class SigningConfigError(ValueError):
    """A key file or the trusted keys cannot be read; the text says which."""


def load_signer(signing: SigningSettings) -> SigningKey | None:
    """This process's private key (None when none is configured)."""
    if signing.key_file is None:
        return None
    try:
        data = signing.key_file.read_bytes()
    except OSError as exc:
        raise SigningConfigError(
            f"cannot read OPTIMERGE_SIGNING__KEY_FILE ({signing.key_file}): {exc.strerror}"
        ) from exc
    try:
        return SigningKey.from_pem(data, str(signing.key_file))
    except ValueError as exc:
        raise SigningConfigError(str(exc)) from exc


def load_keyring(signing: SigningSettings) -> Keyring:
    text = signing.trusted_keys
    where = "OPTIMERGE_SIGNING__TRUSTED_KEYS"
    if signing.trusted_keys_file is not None:
        where = str(signing.trusted_keys_file)
        try:
            text += "\n" + signing.trusted_keys_file.read_text()
        except OSError as exc:
            raise SigningConfigError(f"cannot read {where}: {exc.strerror}") from exc
    try:
        return Keyring(tuple(parse_trusted_keys(text, where)))
    except ValueError as exc:
        raise SigningConfigError(str(exc)) from exc


@dataclass(frozen=True, slots=True)
class Refusal:
    record: RawRecord
    action: ReviewAction
    status_reason: str
    detail: str


@dataclass
class Screened:
    # The records and actions that go on to the merge service, in arrival order.
    admitted: list[tuple[RawRecord, ReviewAction]] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)

    def actions(self) -> list[ReviewAction]:
        return [action for _, action in self.admitted]

    def rejected(self) -> list[Rejected]:
        return [Rejected(r.record, _letter(r)) for r in self.refused]

    def outputs(self, topics: Topics, clock: Clock) -> list[OutputEvent]:
        outputs = []
        for refusal in self.refused:
            letter = _letter(refusal)
            status = _status(refusal, clock)
            outputs.append(OutputEvent(topics.dlq.name, letter.key, topics.dlq.encode(letter)))
            outputs.append(
                OutputEvent(
                    topics.document_status.name,
                    status.patient_id,
                    topics.document_status.encode(status),
                )
            )
        return outputs


def _event_id(record: RawRecord, kind: str) -> str:
    return str(deterministic_event_id(record.topic, record.partition, record.offset, kind))


def _letter(refusal: Refusal) -> DeadLetter:
    record = refusal.record
    return dead_letter(
        event_id=_event_id(record, "dlq"),
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        kind="signature",
        reason=f"review action refused: {refusal.detail}",
        document_id=refusal.action.document_id,
    )


def _status(refusal: Refusal, clock: Clock) -> DocumentStatusEvent:
    action = refusal.action
    return DocumentStatusEvent(
        # Not the action's own status id: a replay must not pass for the original's answer.
        event_id=_event_id(refusal.record, "invalid"),
        document_id=action.document_id,
        patient_id=action.patient_id,
        status=ProcessingStatus.FAILED,
        at=clock(),
        action_id=action.action_id,
        action=action.action,
        conflict=True,
        reason=refusal.status_reason,
        outcome=ReviewOutcome.INVALID.value,
    )


class SignatureGate:
    def __init__(self, keyring: Keyring, signing: SigningSettings, clock: Clock = utc_now):
        self.keyring = keyring
        self.max_age = timedelta(seconds=signing.max_age_seconds)
        self.max_skew = timedelta(seconds=signing.max_clock_skew_seconds)
        self.clock = clock

    @classmethod
    def from_settings(cls, settings: ResolvedSettings, clock: Clock = utc_now) -> SignatureGate:
        return cls(load_keyring(settings.signing), settings.signing, clock)

    def _check(self, record: RawRecord, action: ReviewAction) -> Refusal | str:
        """A refusal, or the id of the key that signed it."""
        verdict = self.keyring.verify(action)
        if isinstance(verdict, Refused):
            reason = NOT_SIGNED if verdict.problem == Problem.MISSING else BAD_SIGNATURE
            return Refusal(record, action, reason, f"{verdict.problem.value}: {verdict.detail}")
        late = record.timestamp - action.requested_at
        if late > self.max_age or -late > self.max_skew:
            detail = (
                f"signed at {action.requested_at.isoformat()}, appended at "
                f"{record.timestamp.isoformat()}: more than {self.max_age.total_seconds():g} s "
                f"apart (or over {self.max_skew.total_seconds():g} s in the future)"
            )
            return Refusal(record, action, TOO_OLD, f"too_old: {detail}")
        return verdict.key_id

    def screen(
        self, conn: psycopg.Connection, pairs: Sequence[tuple[RawRecord, ReviewAction]]
    ) -> Screened:
        """Admit the actions that are signed, fresh and new (or redelivered), in order."""
        screened = Screened()
        checked: list[tuple[RawRecord, ReviewAction, Receipt]] = []
        for record, action in pairs:
            verdict = self._check(record, action)
            if isinstance(verdict, Refusal):
                screened.refused.append(verdict)
                continue
            receipt = Receipt(
                action.action_id,
                digest_of(action),
                verdict,
                record.topic,
                record.partition,
                record.offset,
                self.clock(),
            )
            checked.append((record, action, receipt))
        if not checked:
            return screened
        with transaction(conn) as cur:
            first = first_receipts(cur, [receipt for _, _, receipt in checked])
        for record, action, receipt in checked:
            seen = first[action.action_id]
            if seen.same_place(receipt) and seen.body_sha256 == receipt.body_sha256:
                screened.admitted.append((record, action))
                continue
            where = f"{seen.source_topic}[{seen.source_partition}]@{seen.source_offset}"
            body = "the same body" if seen.body_sha256 == receipt.body_sha256 else "another body"
            detail = f"replayed: action {action.action_id} was first read at {where}, with {body}"
            log.warning("refused review action %s: %s", action.action_id, detail)
            screened.refused.append(Refusal(record, action, REPLAYED, detail))
        return screened
