"""Wire contract of optimerge: the events on its topics (pydantic v2, JSON on the wire;
docs/contract.md#events)."""

from schemas.events import (
    SCHEMA_VERSION,
    ActorKind,
    DeadLetter,
    DocumentStatusEvent,
    ExtractionModel,
    ExtractionResult,
    FlaggedItem,
    FlagReason,
    FlagRule,
    HumanName,
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
    "ExtractionModel",
    "ExtractionResult",
    "FlagReason",
    "FlagRule",
    "FlaggedItem",
    "HumanName",
    "PatientDemographics",
    "ProcessingStatus",
    "ReviewAction",
    "ReviewActionKind",
    "ReviewStatus",
    "deterministic_event_id",
    "utc_now",
]
