"""Turning a reviewer's decision into a ReviewAction on review.actions (keyed by patient_id)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from typing import Any

from confluent_kafka import KafkaException

from domain.documents import DocumentView
from domain.signing import SigningKey
from schemas import ReviewAction, ReviewActionKind
from schemas.exact_json import dumps_exact_text
from schemas.input_contract import MAX_INT64, MAX_NOTE_CHARS, normalise_free_text
from streams.producer import DeliveryFailedError, EventProducer
from streams.topics import BoundTopic
from webapp.corrections import CorrectionError, parse_corrected_resources
from webapp.roles import User

MAX_NOTE = MAX_NOTE_CHARS
MAX_VERSION = MAX_INT64


class ActionInvalid(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class ActionNotSent(RuntimeError):
    pass


def build_action(
    user: User,
    document: DocumentView,
    fields: Mapping[str, Any],
    *,
    max_bytes: int,
) -> ReviewAction:
    """A ReviewAction from a submitted form or JSON body; ActionInvalid says what is wrong.

    `corrected_resources` may be JSON text (the form) or a list already (the API)."""
    problems: list[str] = []
    try:
        kind = ReviewActionKind(str(fields.get("action", "")))
    except ValueError:
        raise ActionInvalid(
            ["“action” must be one of mark_correct, correct_data, rollback."]
        ) from None
    raw_version = fields.get("expected_version")
    try:
        expected = int(str(raw_version))
        # Versions are bigints: a larger number can never match (and once crashed the answer).
        if not 0 <= expected <= MAX_VERSION:
            raise ValueError
    except ValueError:
        problems.append("“expected_version” must be the document version you reviewed.")
        expected = 0
    # Free text a person pasted (from a PDF, say) may hold control characters they cannot see:
    # removed here, the same rule the pipeline's contract states (docs/contract.md#input-contract).
    note = normalise_free_text(str(fields.get("note") or "")).strip()
    if len(note) > MAX_NOTE:
        problems.append(f"The note has more than {MAX_NOTE} characters.")
    corrected: list[dict[str, Any]] | None = None
    if kind == ReviewActionKind.CORRECT_DATA:
        raw = fields.get("corrected_resources")
        text = raw if isinstance(raw, str) else _json_text(raw)
        try:
            corrected = parse_corrected_resources(
                text, patient_id=document.patient_id, max_bytes=max_bytes
            )
        except CorrectionError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ActionInvalid(problems)
    return ReviewAction(
        document_id=document.document_id,
        patient_id=document.patient_id,
        action=kind,
        reviewer=user.name,
        expected_version=expected,
        corrected_resources=corrected,
        note=note,
    )


def _json_text(value: Any) -> str:
    return "" if value is None else dumps_exact_text(value)


class ActionSender:
    """Signs each action with the app's key and publishes it, one at a time, waiting for
    Kafka's acknowledgement, so 'sent' means the merge agent will see it."""

    def __init__(
        self,
        producer: EventProducer,
        topic: BoundTopic[ReviewAction],
        timeout: float,
        signer: SigningKey,
    ) -> None:
        self._producer = producer
        self._topic = topic
        self._timeout = timeout
        self._signer = signer
        self._lock = threading.Lock()

    def send(self, action: ReviewAction) -> ReviewAction:
        """Returns the action as sent (signed)."""
        signed = self._signer.sign(action)
        with self._lock:
            try:
                self._producer.publish(self._topic, signed)
                self._producer.flush(self._timeout)
            except (DeliveryFailedError, KafkaException, BufferError) as exc:
                raise ActionNotSent(str(exc)) from exc
        return signed

    def close(self) -> None:
        with contextlib.suppress(DeliveryFailedError):
            self._producer.flush(5.0)
