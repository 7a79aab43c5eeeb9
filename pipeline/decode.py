"""Raw Kafka records into events, or into a dead letter with a reason a person can act on
(docs/contract.md#input-contract). Never raises: whatever the bytes, the answer is an event or
a refusal."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from pipeline.letters import dead_letter
from schemas import DeadLetter, ExtractionResult, ReviewAction
from schemas.events import DeadLetterKind as ErrorKind
from schemas.exact_json import NumberRefusedError, loads_exact
from schemas.input_contract import MAX_INT32, event_problem, forbidden_character
from streams.topics import Topic


@dataclass(frozen=True, slots=True)
class RawRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp: datetime


@dataclass(frozen=True, slots=True)
class Subject:
    """What a refused event names, as far as it can be read and used: the refusal is recorded
    on that document (or, for a review action, answered under its action id)."""

    document_id: str | None = None
    patient_id: str | None = None
    extraction_version: int | None = None
    action_id: uuid.UUID | None = None
    action: str | None = None
    reviewer: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    record: RawRecord
    dead_letter: DeadLetter
    subject: Subject = Subject()


Decoded = ExtractionResult | ReviewAction | Rejected

NO_KEY = (
    "message has no key: events must be keyed by patient_id, or their order among the "
    "patient's other events is arbitrary"
)


def usable_id(value: object) -> str | None:
    """`value` if it can name a document, patient or reviewer: a clean string of 1-256."""
    if isinstance(value, str) and 1 <= len(value) <= 256 and forbidden_character(value) is None:
        return value
    return None


def _usable_version(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 1 <= value <= MAX_INT32 else None


def subject_of(data: object) -> Subject:
    """Whatever of the ids a refused event names can still be used."""
    if not isinstance(data, dict):
        return Subject()
    action_id = data.get("action_id")
    try:
        parsed_action = uuid.UUID(action_id) if isinstance(action_id, str) else None
    except ValueError:
        parsed_action = None
    return Subject(
        document_id=usable_id(data.get("document_id")),
        patient_id=usable_id(data.get("patient_id")),
        extraction_version=_usable_version(data.get("extraction_version", 1)),
        action_id=parsed_action,
        action=usable_id(data.get("action")),
        reviewer=usable_id(data.get("reviewer")),
    )


def _reject(
    record: RawRecord, kind: ErrorKind, reason: str, subject: Subject | None = None
) -> Rejected:
    subject = subject or Subject()
    letter = dead_letter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        kind=kind,
        reason=reason,
        document_id=subject.document_id,
        # Bigger than an event may be: only its first bytes are worth keeping.
        keep_whole=kind != "too_large",
    )
    return Rejected(record, letter, subject)


def _validation_summary(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    more = f" (+{error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return "; ".join(parts) + more


def _large_subject(value: bytes) -> Subject:
    # Too large to take, but it may still name its document: best effort, never an error.
    try:
        return subject_of(orjson.loads(value))
    except Exception:
        return Subject()


def decode(record: RawRecord, *, topic: Topic[Any], max_bytes: int) -> Decoded:
    """The input event in `record`, as `topic`'s model says, or a Rejected with its reason."""
    try:
        return _decode(record, topic, max_bytes)
    except Exception as exc:  # a refusal, never a crash, whatever the bytes
        return _reject(record, "schema", f"the event could not be read ({type(exc).__name__})")


def _decode(record: RawRecord, topic: Topic[Any], max_bytes: int) -> Decoded:
    value = record.value
    if value is None:
        return _reject(record, "schema", "empty message (no value)")
    if len(value) > max_bytes:
        return _reject(
            record,
            "too_large",
            f"payload of {len(value):,} bytes exceeds the {max_bytes:,} limit",
            _large_subject(value),
        )
    try:
        data = loads_exact(value)
    except UnicodeDecodeError as exc:
        return _reject(record, "invalid_json", f"not UTF-8: invalid byte at position {exc.start}")
    except RecursionError:
        return _reject(record, "invalid_json", "invalid JSON: nested too deeply to read")
    except NumberRefusedError as exc:
        return _reject(record, "schema", f"refused by the input contract: {exc}")
    except ValueError as exc:
        return _reject(record, "invalid_json", f"invalid JSON: {exc}")
    subject = subject_of(data)
    problem = event_problem(data, value)
    if problem:
        return _reject(record, "schema", f"refused by the input contract: {problem}", subject)
    model = topic.model
    try:
        event = model.model_validate(data)
    except ValidationError as exc:
        summary = _validation_summary(exc)
        return _reject(record, "schema", f"not a valid {model.__name__}: {summary}", subject)
    if not isinstance(event, ExtractionResult | ReviewAction):
        raise TypeError(f"{topic.base} is not an input topic of the merge agent")
    return _check_key(record, event, subject)


def _check_key(
    record: RawRecord, event: ExtractionResult | ReviewAction, subject: Subject
) -> Decoded:
    if record.key is None:
        return _reject(record, "schema", NO_KEY, subject)
    try:
        key = record.key.decode("utf-8")
    except UnicodeDecodeError:
        return _reject(record, "schema", "message key is not UTF-8", subject)
    if key != event.patient_id:
        return _reject(
            record,
            "schema",
            f"message key {key[:256]!r} is not the patient_id {event.patient_id!r}: "
            "events must be keyed by patient id to keep each patient's writes in order",
            subject,
        )
    return event
