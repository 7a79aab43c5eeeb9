"""The events on optimerge's topics, as pydantic v2 models: the wire contract of
docs/contract.md#events."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    field_validator,
)

from schemas.dates import FhirDate
from schemas.fhir_types import NOT_FROM_DOCUMENTS, R4_RESOURCE_TYPES
from schemas.input_contract import (
    MAX_INT32,
    MAX_INT64,
    MAX_NOTE_CHARS,
    MAX_RESOURCES,
    timestamp_problem,
)

SCHEMA_VERSION = 1

# Namespace for the deterministic ids of output events (uuid5 of document, version and kind).
OUTPUT_EVENT_NAMESPACE = uuid.UUID("6f1c9a52-5a0e-4d0b-9a59-0d7f3e2b8c41")


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock; anything computing times takes a Clock, so tests inject their own."""
    return datetime.now(UTC)


def deterministic_event_id(*parts: object) -> uuid.UUID:
    """The same inputs always give the same id, so consumers can drop redelivered duplicates."""
    return uuid.uuid5(OUTPUT_EVENT_NAMESPACE, ":".join(str(p) for p in parts))


class ReviewStatus(StrEnum):
    PENDING = "pending"
    AUTO_APPROVED = "auto_approved"
    FLAGGED = "flagged"
    REVIEWED = "reviewed"
    REJECTED = "rejected"


class ProcessingStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETE = "COMPLETE"
    FAILED = "FAILED"


class FlagRule(StrEnum):
    LOW_CONFIDENCE = "low_confidence"
    FALLBACK_MODEL = "fallback_model"
    NO_RESOURCES = "no_resources"
    FEW_RESOURCES_LOW_CONFIDENCE = "few_resources_low_confidence"
    BIRTH_DATE_CONFLICT = "birth_date_conflict"
    NAME_MISMATCH = "name_mismatch"
    UNKNOWN_PATIENT = "unknown_patient"
    NO_IDENTITY = "no_identity"
    MERGE_ERROR = "merge_error"
    FOREIGN_REFERENCE = "foreign_reference"


class MatchKind(StrEnum):
    """How one part of the identity on a document compares with the patient record."""

    EXACT = "exact"
    INITIAL = "initial"  # "J." for John
    NICKNAME = "nickname"  # Bill for William
    COMPOUND = "compound"  # one part of a compound or hyphenated name, or both of them
    TRANSLITERATED = "transliterated"  # written in another script
    TYPO = "typo"  # one slip of the keyboard or the OCR
    SIMILAR = "similar"  # fuzzy similarity at or above the threshold
    PARTIAL = "partial"  # a partial birth date that agrees as far as it goes
    SWAPPED = "swapped"  # day and month of a birth date
    TRANSPOSED = "transposed"  # two digits of a birth year
    MISSING = "missing"  # one side does not say
    DIFFERENT = "different"


IdentityPart = Literal["family", "given", "birth_date"]


class Evidence(BaseModel):
    """What a reviewer needs to judge one part: both values, how they compare, and why."""

    model_config = ConfigDict(frozen=True)

    part: IdentityPart
    document: str | None = None
    record: str | None = None
    how: MatchKind
    score: float | None = Field(default=None, ge=0.0, le=100.0)
    detail: str | None = None


class FlagReason(BaseModel):
    model_config = ConfigDict(frozen=True)

    rule: FlagRule
    text: str
    # Left out of the JSON when empty: most reasons have none.
    evidence: tuple[Evidence, ...] = Field(default=(), exclude_if=lambda evidence: not evidence)


class _Event(BaseModel):
    """Common envelope: unknown fields are kept (extractors may add their own), never rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    schema_version: int = SCHEMA_VERSION


NonEmptyStr = Annotated[str, Field(min_length=1, max_length=256)]


def _in_range(value: datetime) -> datetime:
    problem = timestamp_problem(value)
    if problem:
        raise ValueError(f"timestamp {problem}")
    return value


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true or false")
    return value


def _iso_text(value: object) -> object:
    # Not a number of seconds since 1970: the contract says ISO 8601 with a time zone.
    if isinstance(value, int | float | Decimal):
        raise ValueError("a timestamp is an ISO 8601 string with a time zone, not a number")
    return value


# Timestamps of input events: aware, and readable back by every reader in every time zone.
InputDatetime = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_in_range)]


class ExtractionModel(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: NonEmptyStr
    version: str = ""
    is_fallback: bool = False


class HumanName(BaseModel):
    model_config = ConfigDict(extra="allow")

    family: str | None = None
    given: list[str] = Field(default_factory=list)


class PatientDemographics(BaseModel):
    """The demographics as read from the document (not the patient record)."""

    model_config = ConfigDict(extra="allow")

    name: HumanName | None = None
    # FHIR allows partial dates: "1993", "1993-06" or "1993-06-15".
    birth_date: FhirDate | None = None


class SourceSnippet(BaseModel):
    model_config = ConfigDict(extra="allow")

    text: str
    page: int | None = None


class DocumentInfo(BaseModel):
    model_config = ConfigDict(extra="allow")

    title: str | None = None
    type: str | None = None
    pages: int | None = Field(default=None, ge=0)


FhirResource = dict[str, Any]


def validate_resources(resources: list[FhirResource]) -> list[FhirResource]:
    """Every resource is a JSON object whose resourceType is a FHIR R4 resource type that a
    document may carry (no Patient, no Bundle); the rest is FHIR's business."""
    for index, resource in enumerate(resources):
        resource_type = resource.get("resourceType")
        if not isinstance(resource_type, str) or not resource_type:
            raise ValueError(f"resources[{index}] has no resourceType")
        if resource_type not in R4_RESOURCE_TYPES:
            raise ValueError(f"resources[{index}]: resourceType is not a FHIR R4 resource type")
        if resource_type in NOT_FROM_DOCUMENTS:
            raise ValueError(f"resources[{index}]: a document cannot carry a {resource_type}")
    return resources


class ExtractionResult(_Event):
    """One processed document, as an upstream AI extractor publishes it on extraction.results."""

    document_id: NonEmptyStr
    patient_id: NonEmptyStr
    # An `integer` column: at most 2^31 - 1.
    extraction_version: StrictInt = Field(default=1, ge=1, le=MAX_INT32)
    uploaded_at: InputDatetime
    extracted_at: InputDatetime
    model: ExtractionModel
    confidence: Annotated[float, BeforeValidator(_not_bool)] = Field(ge=0.0, le=1.0)
    patient: PatientDemographics = Field(default_factory=PatientDemographics)
    resources: list[FhirResource] = Field(default_factory=list, max_length=MAX_RESOURCES)
    source_snippets: dict[str, list[SourceSnippet]] = Field(default_factory=dict)
    document: DocumentInfo = Field(default_factory=DocumentInfo)

    _check_resources = field_validator("resources")(validate_resources)


class ActorKind(StrEnum):
    """Who made a change: the merge agent itself, a reviewer in the app, or an operator."""

    SYSTEM = "system"
    REVIEWER = "reviewer"
    OPERATOR = "operator"


class ReviewActionKind(StrEnum):
    MARK_CORRECT = "mark_correct"
    CORRECT_DATA = "correct_data"
    ROLLBACK = "rollback"


class ReviewAction(_Event):
    """A person's decision on a document, published on review.actions: a reviewer's from the
    app, or an operator's from the command line. Every write to a document travels so."""

    action_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    document_id: NonEmptyStr
    patient_id: NonEmptyStr
    action: ReviewActionKind
    # Who acted: the reviewer's account, or the operator named on the command line.
    reviewer: NonEmptyStr
    actor_kind: Literal[ActorKind.REVIEWER, ActorKind.OPERATOR] = ActorKind.REVIEWER
    expected_version: StrictInt = Field(ge=0, le=MAX_INT64)
    corrected_resources: list[FhirResource] | None = Field(default=None, max_length=MAX_RESOURCES)
    note: str = Field(default="", max_length=MAX_NOTE_CHARS)
    requested_at: InputDatetime = Field(default_factory=utc_now)
    # `ed25519:<key id>:<base64url>` over what the action decides (docs/contract.md#signatures);
    # the worker applies no action without a valid one.
    signature: str | None = Field(default=None, max_length=256)

    @field_validator("corrected_resources")
    @classmethod
    def _check_corrected(cls, value: list[FhirResource] | None) -> list[FhirResource] | None:
        return None if value is None else validate_resources(value)


class DocumentStatusEvent(_Event):
    """The processing status of one document, published on document.status."""

    document_id: str
    patient_id: str
    status: ProcessingStatus
    review_status: ReviewStatus | None = None
    version: int = 0
    extraction_version: int | None = None
    at: AwareDatetime = Field(default_factory=utc_now)
    received_at: AwareDatetime | None = None
    merged_at: AwareDatetime | None = None
    failed_at: AwareDatetime | None = None
    processing_ms: float | None = None
    attempts: int = 1
    error: str | None = None
    action_id: uuid.UUID | None = None
    action: ReviewActionKind | None = None
    conflict: bool = False
    reason: str | None = None
    # merged, remerged, duplicate, stale (merges); applied, conflict, not_found, invalid
    # (review actions).
    outcome: str | None = None


class FlaggedItem(_Event):
    """A document entered the review queue (`flagged`) or left it (`resolved`)."""

    kind: Literal["flagged", "resolved"]
    document_id: str
    patient_id: str
    review_status: ReviewStatus
    version: int
    flag_reasons: list[FlagReason] = Field(default_factory=list)
    confidence: float | None = None
    model_name: str | None = None
    uploaded_at: AwareDatetime | None = None
    # For `resolved`: the review action that resolved it, and who took it.
    resolution: ReviewActionKind | None = None
    reviewer: str | None = None
    at: AwareDatetime = Field(default_factory=utc_now)


DeadLetterKind = Literal[
    "invalid_json", "schema", "too_large", "merge_error", "action_error", "stuck", "signature"
]


class DeadLetter(_Event):
    """An input event that could not be processed, with the reason, on extraction.results.dlq.

    `payload` is the message as received: UTF-8 text, or base64 when it was not valid UTF-8
    (`payload_encoding`); cut to its first bytes when it would not fit in a message
    (`payload_truncated`; `payload_sha256` and `payload_bytes` always describe all of it)."""

    source_topic: str
    source_partition: int | None = None
    source_offset: int | None = None
    key: str | None = None
    reason: str
    error_kind: DeadLetterKind
    payload: str
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    payload_truncated: bool = False
    payload_bytes: int | None = None
    payload_sha256: str | None = None
    document_id: str | None = None
    at: AwareDatetime = Field(default_factory=utc_now)

    def payload_bytes_as_received(self) -> bytes:
        """The payload as it was received (its first bytes only when truncated)."""
        if self.payload_encoding == "base64":
            return base64.b64decode(self.payload)
        return self.payload.encode()
