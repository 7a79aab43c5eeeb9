"""The topic registry: every topic's name, key, event model and codec in one place
(docs/contract.md#topics). Each edge (the agents' decode, their outputs, the app's live feed,
the monitor, dead letters, publishing) encodes and decodes through it.

Names take an optional prefix, so tests and tenants never share topics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from schemas import DeadLetter, DocumentStatusEvent, ExtractionResult, FlaggedItem, ReviewAction
from schemas.audit import AuditCheckpoint
from schemas.exact_json import dumps_exact, loads_exact
from schemas.health import WorkerHeartbeat
from schemas.metrics import PipelineMetricsWindow

# The largest message a topic, producer or consumer of ours takes. A 5 MB poison payload must
# still reach the worker, so that it is dead-lettered rather than bounced at the producer.
MAX_MESSAGE_BYTES = 8 * 1024 * 1024

E = TypeVar("E", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class Topic(Generic[E]):
    """What a topic carries: its base name, its event model, and how its messages are keyed."""

    base: str
    model: type[E]
    key_of: Callable[[E], str | None]
    # An input of the merge agent: keyed by patient_id and co-partitioned with the other input.
    is_input: bool = False
    # Carries whole documents: the topic's max.message.bytes is raised to MAX_MESSAGE_BYTES.
    is_large: bool = False
    # Kept this long (retention.ms) instead of the broker's default; None: the default.
    retention_ms: int | None = None
    # cleanup.policy=compact: the newest message of each key is kept, for good.
    compacted: bool = False

    def encode(self, event: E) -> bytes:
        if self.is_input:
            # Input events carry FHIR resources: their decimals are written exactly as read.
            return dumps_exact(event.model_dump(mode="python"), option=orjson.OPT_UTC_Z)
        return event.model_dump_json().encode()

    def decode(self, value: bytes) -> E:
        """The event in `value`; raises ValueError (pydantic's ValidationError is one) for
        anything else."""
        if self.is_input:
            return self.model.model_validate(loads_exact(value))
        return self.model.model_validate_json(value)

    def key(self, event: E) -> str | None:
        return self.key_of(event)


def _patient(event: Any) -> str:
    return str(event.patient_id)


EXTRACTION_RESULTS: Topic[ExtractionResult] = Topic(
    "extraction.results", ExtractionResult, _patient, is_input=True, is_large=True
)
# A correct_data action carries a document's resources: as large as an extraction.
REVIEW_ACTIONS: Topic[ReviewAction] = Topic(
    "review.actions", ReviewAction, _patient, is_input=True, is_large=True
)
FLAGGED_ITEMS: Topic[FlaggedItem] = Topic("flagged.items", FlaggedItem, _patient)
DOCUMENT_STATUS: Topic[DocumentStatusEvent] = Topic(
    "document.status", DocumentStatusEvent, _patient
)
PIPELINE_METRICS: Topic[PipelineMetricsWindow] = Topic(
    "pipeline.metrics", PipelineMetricsWindow, lambda window: window.worker_id
)
DEAD_LETTERS: Topic[DeadLetter] = Topic(
    "extraction.results.dlq", DeadLetter, lambda letter: letter.key, is_large=True
)

# Liveness only matters now: an hour of heartbeats is plenty, and readers seek by time.
WORKER_HEARTBEATS: Topic[WorkerHeartbeat] = Topic(
    "worker.heartbeats", WorkerHeartbeat, lambda beat: beat.worker_id, retention_ms=3_600_000
)

# Signed audit chain positions, one per patient, kept outside the database (compacted: the
# newest of each patient stays, and is what `optimerge audit verify` checks against).
AUDIT_CHECKPOINTS: Topic[AuditCheckpoint] = Topic(
    "audit.checkpoints", AuditCheckpoint, _patient, compacted=True
)

REGISTRY: tuple[Topic[Any], ...] = (
    EXTRACTION_RESULTS,
    REVIEW_ACTIONS,
    FLAGGED_ITEMS,
    DOCUMENT_STATUS,
    PIPELINE_METRICS,
    DEAD_LETTERS,
    WORKER_HEARTBEATS,
    AUDIT_CHECKPOINTS,
)

_BY_BASE: dict[str, Topic[Any]] = {t.base: t for t in REGISTRY}


@dataclass(frozen=True, slots=True)
class BoundTopic(Generic[E]):
    """A registered topic under its full (prefixed) name: what clients produce to and read."""

    name: str
    spec: Topic[E]

    def encode(self, event: E) -> bytes:
        return self.spec.encode(event)

    def decode(self, value: bytes) -> E:
        return self.spec.decode(value)

    def key(self, event: E) -> str | None:
        return self.spec.key(event)


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str = ""

    def bind(self, spec: Topic[E]) -> BoundTopic[E]:
        return BoundTopic(f"{self.prefix}{spec.base}", spec)

    @property
    def extraction_results(self) -> BoundTopic[ExtractionResult]:
        return self.bind(EXTRACTION_RESULTS)

    @property
    def review_actions(self) -> BoundTopic[ReviewAction]:
        return self.bind(REVIEW_ACTIONS)

    @property
    def flagged_items(self) -> BoundTopic[FlaggedItem]:
        return self.bind(FLAGGED_ITEMS)

    @property
    def document_status(self) -> BoundTopic[DocumentStatusEvent]:
        return self.bind(DOCUMENT_STATUS)

    @property
    def pipeline_metrics(self) -> BoundTopic[PipelineMetricsWindow]:
        return self.bind(PIPELINE_METRICS)

    @property
    def dlq(self) -> BoundTopic[DeadLetter]:
        return self.bind(DEAD_LETTERS)

    @property
    def worker_heartbeats(self) -> BoundTopic[WorkerHeartbeat]:
        return self.bind(WORKER_HEARTBEATS)

    @property
    def audit_checkpoints(self) -> BoundTopic[AuditCheckpoint]:
        return self.bind(AUDIT_CHECKPOINTS)

    def spec_named(self, name: str) -> Topic[Any] | None:
        """The registered topic that `name` (a full name, as a record carries it) is."""
        if not name.startswith(self.prefix):
            return None
        return _BY_BASE.get(name[len(self.prefix) :])

    def inputs(self) -> tuple[str, ...]:
        """Names of the co-partitioned input topics (keyed by patient_id)."""
        return tuple(self.bind(t).name for t in REGISTRY if t.is_input)

    def large(self) -> tuple[str, ...]:
        return tuple(self.bind(t).name for t in REGISTRY if t.is_large)

    def retention(self) -> dict[str, int]:
        """retention.ms of the topics that set their own."""
        return {self.bind(t).name: t.retention_ms for t in REGISTRY if t.retention_ms is not None}

    def compacted(self) -> tuple[str, ...]:
        return tuple(self.bind(t).name for t in REGISTRY if t.compacted)

    def all(self) -> tuple[str, ...]:
        return tuple(self.bind(t).name for t in REGISTRY)
