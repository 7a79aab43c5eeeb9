"""Wire contract of optimerge: the events on its topics (pydantic v2, JSON on the wire;
docs/contract.md#events)."""

from schemas.dates import FhirDate
from schemas.events import (
    SCHEMA_VERSION,
    ActorKind,
    DeadLetter,
    DocumentStatusEvent,
    Evidence,
    ExtractionModel,
    ExtractionResult,
    FlaggedItem,
    FlagReason,
    FlagRule,
    HumanName,
    MatchKind,
    PatientDemographics,
    ProcessingStatus,
    ReviewAction,
    ReviewActionKind,
    ReviewStatus,
    deterministic_event_id,
    utc_now,
)

__all__ = [
    "SCHEMA_VERSION",
    "ActorKind",
    "DeadLetter",
    "DocumentStatusEvent",
    "Evidence",
    "ExtractionModel",
    "ExtractionResult",
    "FhirDate",
    "FlagReason",
    "FlagRule",
    "FlaggedItem",
    "HumanName",
    "MatchKind",
    "PatientDemographics",
    "ProcessingStatus",
    "ReviewAction",
    "ReviewActionKind",
    "ReviewStatus",
    "deterministic_event_id",
    "utc_now",
]
