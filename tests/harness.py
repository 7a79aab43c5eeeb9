"""An in-process harness for the pipeline (as bytewax's TestingSource / TestingSink): records made
in memory go through the real MergeWorker and merge service against the real PostgreSQL, and the
outputs land in a list, decoded through the topic registry. Milliseconds per batch, so ordering,
failure isolation and outputs are tested here; delivery and crash safety stay with the worker
processes on the real broker."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from prometheus_client import CollectorRegistry
from pydantic import BaseModel

from agents.worker import MergeWorker
from config import ResolvedSettings, Settings, SigningSettings
from domain.signing import SigningKey
from pipeline.batch import BatchResult
from pipeline.decode import RawRecord
from schemas import (
    ActorKind,
    DeadLetter,
    DocumentStatusEvent,
    ExtractionResult,
    FlaggedItem,
    ReviewAction,
)
from schemas.metrics import PipelineMetricsWindow
from streams.topics import BoundTopic, Topics

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


@dataclass
class ListSink:
    """What a worker would have published, per topic, in order."""

    sent: dict[str, list[bytes]] = field(default_factory=lambda: defaultdict(list))
    flushes: int = 0

    def send(
        self,
        topic: str,
        value: bytes,
        *,
        key: str | bytes | None = None,
        on_delivered: Callable[[int, int], None] | None = None,
    ) -> None:
        self.sent[topic].append(value)
        if on_delivered is not None:
            on_delivered(0, len(self.sent[topic]) - 1)

    def flush(self, timeout: float = 30.0) -> None:
        self.flushes += 1


class Harness:
    def __init__(
        self,
        database_url: str,
        *,
        worker_url: str | None = None,
        prefix: str = "harness.",
        **settings: Any,
    ) -> None:
        """`database_url`: the owner's, where tests set up and look (`settings.migration_url`);
        the worker runs as `worker_url`, the worker's role, as deployed."""
        # The app's key and an operator's, both trusted by the worker (docs/contract.md).
        self.keys = {
            kind: SigningKey.generate() for kind in (ActorKind.REVIEWER, ActorKind.OPERATOR)
        }
        trusted = ";".join(key.trusted_line(kind) for kind, key in self.keys.items())
        settings.setdefault("signing", SigningSettings(trusted_keys=trusted))
        self.settings: ResolvedSettings = Settings(
            # Never dialled: outputs go to the sink.
            kafka_bootstrap_servers="127.0.0.1:9",
            database_url=worker_url or database_url,
            migration_database_url=database_url,
            topic_prefix=prefix,
            partitions=3,
            **settings,
        ).resolved()
        self.topics = Topics(prefix)
        self.sink = ListSink()
        self.registry = CollectorRegistry()
        self.worker = MergeWorker(self.settings, registry=self.registry, sink=self.sink)
        self._offsets: dict[tuple[str, int], int] = defaultdict(int)

    def close(self) -> None:
        self.worker.processor.close()

    # --- sources ---------------------------------------------------------------------------

    def record(
        self, topic: str, value: bytes | None, *, key: bytes | None, partition: int = 0
    ) -> RawRecord:
        offset = self._offsets[(topic, partition)]
        self._offsets[(topic, partition)] += 1
        return RawRecord(topic, partition, offset, key, value, NOW)

    def extraction(self, event: ExtractionResult | dict[str, Any] | bytes, **kw: Any) -> RawRecord:
        value, patient = _encoded(event)
        key = kw.pop("key", patient.encode() if patient else None)
        return self.record(self.topics.extraction_results.name, value, key=key, **kw)

    def sign(self, action: ReviewAction) -> ReviewAction:
        """Signed as the app (or the operator's CLI) would, at the records' time."""
        stamped = action.model_copy(update={"requested_at": NOW})
        return self.keys[ActorKind(action.actor_kind)].sign(stamped)

    def action(self, action: ReviewAction, *, sign: bool = True, **kw: Any) -> RawRecord:
        """A record of `action`, signed unless `sign=False` or it carries a signature."""
        if sign and action.signature is None:
            action = self.sign(action)
        key = kw.pop("key", action.patient_id.encode())
        value = self.topics.review_actions.encode(action)
        return self.record(self.topics.review_actions.name, value, key=key, **kw)

    def run(self, *records: RawRecord) -> BatchResult:
        """One batch through the worker, as the agent hands it over."""
        return self.worker.handle(list(records))

    # --- sinks -----------------------------------------------------------------------------

    def outputs(self, topic: BoundTopic[Any]) -> list[Any]:
        return [topic.decode(v) for v in self.sink.sent.get(topic.name, [])]

    def statuses(self) -> list[DocumentStatusEvent]:
        return self.outputs(self.topics.document_status)

    def flagged(self) -> list[FlaggedItem]:
        return self.outputs(self.topics.flagged_items)

    def dead_letters(self) -> list[DeadLetter]:
        return self.outputs(self.topics.dlq)

    def windows(self) -> list[PipelineMetricsWindow]:
        return self.outputs(self.topics.pipeline_metrics)


def _encoded(event: ExtractionResult | dict[str, Any] | bytes) -> tuple[bytes, str | None]:
    if isinstance(event, bytes):
        return event, None
    if isinstance(event, BaseModel):
        return event.model_dump_json().encode(), event.patient_id
    return orjson.dumps(event), str(event.get("patient_id") or "") or None
