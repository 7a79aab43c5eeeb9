"""Raw Kafka records into events, or into a dead letter with a reason a person can act on."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from pydantic import ValidationError

from schemas import DeadLetter, ExtractionResult, ReviewAction
from schemas.events import DeadLetterKind as ErrorKind
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
class Rejected:
    record: RawRecord
    dead_letter: DeadLetter


Decoded = ExtractionResult | ReviewAction | Rejected

_PAYLOAD_PREVIEW = 64 * 1024


def _reject(
    record: RawRecord, kind: ErrorKind, reason: str, document_id: str | None = None
) -> Rejected:
    value = record.value or b""
    # Keep the whole payload when it is replayable; a huge one is cut to a preview.
    payload = value if kind != "too_large" else value[:_PAYLOAD_PREVIEW]
    return Rejected(
        record,
        DeadLetter(
            source_topic=record.topic,
            source_partition=record.partition,
            source_offset=record.offset,
            key=record.key.decode("utf-8", "replace") if record.key is not None else None,
            reason=reason,
            error_kind=kind,
            payload=payload.decode("utf-8", "replace"),
            document_id=document_id,
        ),
    )


def _validation_summary(error: ValidationError) -> str:
    parts = []
    for item in error.errors()[:5]:
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{where}: {item['msg']}")
    more = f" (+{error.error_count() - 5} more)" if error.error_count() > 5 else ""
    return "; ".join(parts) + more


def decode(record: RawRecord, *, topic: Topic[Any], max_bytes: int) -> Decoded:
    """The input event in `record`, as `topic`'s model says, or a Rejected with its reason."""
    value = record.value
    if value is None:
        return _reject(record, "schema", "empty message (no value)")
    if len(value) > max_bytes:
        return _reject(
            record, "too_large", f"payload of {len(value):,} bytes exceeds the {max_bytes:,} limit"
        )
    try:
        data = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        return _reject(record, "invalid_json", f"invalid JSON: {exc}")
    model = topic.model
    try:
        event = model.model_validate(data)
    except ValidationError as exc:
        doc = data.get("document_id") if isinstance(data, dict) else None
        return _reject(
            record,
            "schema",
            f"not a valid {model.__name__}: {_validation_summary(exc)}",
            doc if isinstance(doc, str) else None,
        )
    if not isinstance(event, ExtractionResult | ReviewAction):
        raise TypeError(f"{topic.base} is not an input topic of the merge agent")
    key = record.key.decode("utf-8", "replace") if record.key is not None else None
    if key is not None and key != event.patient_id:
        return _reject(
            record,
            "schema",
            f"message key {key!r} is not the patient_id {event.patient_id!r}: "
            "events must be keyed by patient id to keep each patient's writes in order",
            event.document_id,
        )
    return event
