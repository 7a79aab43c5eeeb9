"""The steady feed of the fault suite: documents, re-extractions and review actions, published
at a fixed rate from a thread, each recorded with where and when the broker took it; and what
the record must hold once everything is processed (every event here applies exactly once)."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import psycopg
from confluent_kafka import Producer

from config import KafkaEndpoint
from domain.resources import content_of, correction_ids_for, resource_ids_for
from domain.signing import SigningKey
from schemas import ExtractionResult, ReviewAction
from streams.security import client_options
from streams.topics import MAX_MESSAGE_BYTES, Topics


@dataclass
class Published:
    kind: str  # merge, remerge, mark_correct, correct_data
    document_id: str
    patient_id: str
    topic: str
    partition: int = -1
    offset: int = -1
    delivered_at: float = 0.0
    action_id: str | None = None
    event_id: str | None = None


@dataclass
class Expected:
    """A document's end state: version, extraction version, changes audited, resources."""

    patient_id: str
    version: int = 0
    extraction_version: int = 0
    changes: int = 0
    resources: dict[str, bytes] = field(default_factory=dict)
    actions: list[str] = field(default_factory=list)


_MERGES = ("merge", "remerge")


@dataclass
class _DocPlan:
    document_id: str
    patient_id: str
    steps: list[str]
    published: int = 0


def _resources(rng: random.Random, tag: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(rng.randint(2, 4)):
        kind = rng.choice(["Condition", "Observation", "MedicationStatement"])
        item: dict[str, Any] = {"resourceType": kind, "code": {"text": f"{tag} finding {i}"}}
        if rng.random() < 0.5:
            item["id"] = f"x{i}"
        out.append(item)
    return out


class Feed:
    def __init__(
        self,
        kafka: KafkaEndpoint,
        topics: Topics,
        *,
        patients: int,
        seed: int,
        signer: SigningKey,
    ) -> None:
        # Review actions are signed as the app signs them, when they are built (published).
        self._signer = signer
        self.topics = topics
        self.rng = random.Random(seed)
        self.patients = [f"fault-patient-{i:03d}" for i in range(patients)]
        self.expected: dict[str, Expected] = {}
        self.published: list[Published] = []
        self._new: deque[_DocPlan] = deque()
        self._ready: deque[_DocPlan] = deque()
        self._waiting: dict[str, _DocPlan] = {}
        self._next_refresh = 0.0
        self._database_url = ""
        self._producer = Producer(
            {
                **client_options(kafka),
                "enable.idempotence": True,
                "acks": "all",
                "linger.ms": 5,
                "message.max.bytes": MAX_MESSAGE_BYTES,
                # The broker is killed on purpose: keep every message until it is back.
                "message.timeout.ms": 600_000,
            }
        )
        self._hurry = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.delivery_errors: list[str] = []

    # --- the plan ------------------------------------------------------------------------

    def plan(self, documents: int) -> None:
        """Each document: a merge, maybe a review action, maybe a re-extraction, in that order.
        An action is published only once its document is merged, and a re-extraction after an
        action only once the action is applied, as a reviewer acts on what they see: the two
        input topics are consumed side by side, so order across them is not the broker's."""
        for n in range(documents):
            doc, patient = f"fault-doc-{n:05d}", self.rng.choice(self.patients)
            steps = ["merge"]
            if self.rng.random() < 0.5:
                steps.append(self.rng.choice(["mark_correct", "correct_data"]))
            if self.rng.random() < 0.6:
                steps.append("remerge")
            self._new.append(_DocPlan(doc, patient, steps))

    def _event(self, kind: str, doc: str, patient: str) -> tuple[Published, bytes]:
        expected = self.expected.setdefault(doc, Expected(patient))
        if kind in ("merge", "remerge"):
            expected.extraction_version += 1
            resources = _resources(self.rng, f"{doc} v{expected.extraction_version}")
            result = ExtractionResult.model_validate(
                {
                    "document_id": doc,
                    "patient_id": patient,
                    "extraction_version": expected.extraction_version,
                    "uploaded_at": "2026-11-22T10:00:00Z",
                    "extracted_at": "2026-11-22T10:00:05Z",
                    "model": {"name": "extractor-large", "version": "2026.10"},
                    "confidence": 0.97,
                    "resources": resources,
                }
            )
            ids = resource_ids_for(doc, resources, patient_id=patient)
            expected.resources = {i: content_of(r) for i, r in zip(ids, resources, strict=True)}
            topic = self.topics.extraction_results
            value = topic.encode(result)
            record = Published(kind, doc, patient, topic.name, event_id=str(result.event_id))
        else:
            corrected = None
            if kind == "correct_data":
                corrected = [
                    {"resourceType": "Condition", "code": {"text": f"{doc} corrected {i}"}}
                    for i in range(2)
                ]
            action = ReviewAction(
                action_id=uuid.UUID(int=self.rng.getrandbits(128), version=4),
                document_id=doc,
                patient_id=patient,
                action=kind,
                reviewer="fault-suite",
                expected_version=expected.version,
                corrected_resources=corrected,
            )
            if corrected is not None:
                ids = correction_ids_for(
                    patient, doc, expected.version + 1, corrected, expected.resources
                )
                expected.resources = {i: content_of(r) for i, r in zip(ids, corrected, strict=True)}
            expected.actions.append(str(action.action_id))
            topic = self.topics.review_actions
            value = topic.encode(self._signer.sign(action))
            record = Published(kind, doc, patient, topic.name, action_id=str(action.action_id))
        expected.version += 1
        expected.changes += 1
        return record, value

    # --- publishing ------------------------------------------------------------------------

    def start(self, rate: float, database_url: str) -> None:
        self._database_url = database_url
        self._thread = threading.Thread(target=self._run, args=(rate,), daemon=True)
        self._thread.start()

    def _run(self, rate: float) -> None:
        interval = 1.0 / rate
        next_at = time.monotonic()
        while self._new or self._ready or self._waiting:
            self._refresh_waiting()
            with self._lock:  # one sender at a time: a document's steps keep their order
                sent = self._publish_one()
            self._producer.poll(0)
            if not sent:
                time.sleep(0.05)
                continue
            next_at += interval
            if not self._hurry.is_set():
                # poll() returns early on any delivery report: pace with a plain sleep.
                time.sleep(max(0.0, next_at - time.monotonic()))

    def _publish_one(self) -> bool:
        if self._ready and (not self._new or self.rng.random() < 0.55):
            plan = self._ready.popleft()
        elif self._new:
            plan = self._new.popleft()
        else:
            return False
        kind = plan.steps[plan.published]
        self._send(*self._event(kind, plan.document_id, plan.patient_id))
        plan.published += 1
        if plan.published < len(plan.steps):
            same_topic = (kind in _MERGES) == (plan.steps[plan.published] in _MERGES)
            if same_topic:
                self._ready.append(plan)
            else:
                self._waiting[plan.document_id] = plan
        return True

    def _refresh_waiting(self) -> None:
        if not self._waiting or time.monotonic() < self._next_refresh:
            return
        self._next_refresh = time.monotonic() + 0.3
        try:
            with psycopg.connect(self._database_url, connect_timeout=2) as conn:
                rows = conn.execute(
                    "SELECT document_id, version FROM documents WHERE document_id = ANY(%s)",
                    (list(self._waiting),),
                ).fetchall()
        except psycopg.Error:
            return  # PostgreSQL is down on purpose at times
        with self._lock:
            for doc, version in rows:
                plan = self._waiting.get(doc)
                if plan is not None and version >= plan.published:
                    self._ready.append(self._waiting.pop(doc))

    def _send(self, record: Published, value: bytes) -> None:
        def delivered(err: Any, msg: Any) -> None:
            if err is not None:
                self.delivery_errors.append(str(err))
                return
            record.partition, record.offset = msg.partition(), msg.offset()
            record.delivered_at = time.time()

        self.published.append(record)
        while True:
            try:
                self._producer.produce(
                    record.topic, value, key=record.patient_id, on_delivery=delivered
                )
                return
            except BufferError:
                self._producer.poll(0.1)

    def burst(self, count: int) -> None:
        """Publish the next `count` events at once (a worker gets a full batch)."""
        with self._lock:
            for _ in range(count):
                if not self._publish_one():
                    break

    def finish(self, timeout: float = 300.0) -> None:
        """Publish what is left at full speed, then wait for every delivery report."""
        self._hurry.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise AssertionError(f"the feed did not finish in {timeout} s")
        remaining = self._producer.flush(timeout)
        if remaining or self.delivery_errors:
            raise AssertionError(f"{remaining} undelivered, errors: {self.delivery_errors[:3]}")

    @property
    def pending(self) -> int:
        return len(self._new)
