"""What the workers emitted, read back from the output topics (document.status, flagged.items,
the dead letters), committed records only: are the outputs deduplicable by their ids, and was
every change announced?

Deduplicable: two copies of one `event_id` may differ only in when that copy was decided or
received (`at`, `received_at`, `processing_ms`); any other difference (a version, an outcome, a
review status) would make "drop duplicates by id" keep a wrong one. Copies of the events of a
change (outcome merged, remerged or applied, and the flagged/resolved items) must be identical
byte for byte, timestamps included: they are facts of one commit."""

from __future__ import annotations

import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, TopicPartition

from config import KafkaEndpoint
from streams.security import client_options
from streams.topics import MAX_MESSAGE_BYTES, Topics
from tests.faults.feed import Expected

# When this copy was decided or received: a redelivered duplicate may differ in these.
VOLATILE = frozenset({"at", "received_at", "processing_ms"})
CHANGES = frozenset({"merged", "remerged", "applied"})


@dataclass
class OutputLedger:
    kafka: KafkaEndpoint
    topics: Topics
    # event id -> every distinct value seen under it (raw JSON)
    copies: dict[str, set[bytes]] = field(default_factory=lambda: defaultdict(set))
    messages: int = 0
    # (document, version) -> outcomes announced on document.status
    announced: dict[tuple[str, int], set[str]] = field(default_factory=lambda: defaultdict(set))
    _consumer: Consumer | None = None

    def _names(self) -> list[str]:
        t = self.topics
        return [t.document_status.name, t.flagged_items.name, t.dlq.name]

    def start(self) -> None:
        self._consumer = Consumer(
            {
                **client_options(self.kafka),
                "group.id": f"fault-outputs-{uuid.uuid4().hex[:8]}",
                "enable.auto.commit": False,
                "isolation.level": "read_committed",
                "fetch.message.max.bytes": MAX_MESSAGE_BYTES,
                "log_level": 0,
            }
        )
        parts = []
        for name in self._names():
            meta = self._consumer.list_topics(name, timeout=30).topics[name]
            parts += [TopicPartition(name, p, OFFSET_BEGINNING) for p in meta.partitions]
        self._consumer.assign(parts)

    def catch_up(self, timeout: float = 90.0) -> None:
        """Read until every output partition is at the end it had when this was called (one
        round trip per partition); a broker lost meanwhile is waited out."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                ends = self._ends(cached=False)
                break
            except KafkaException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        self._read_to(ends, deadline)

    def until_announced(self, expected: dict[str, Expected], timeout: float = 30.0) -> None:
        """Read on (to the ends the consumer last heard of) until the newest version of every
        expected document is announced, or `timeout`: a worker publishes a batch's events just
        after writing it, so they may trail the database by a moment."""
        deadline = time.monotonic() + timeout
        while True:
            self._read_to(self._ends(cached=True), deadline)
            if not self.unannounced(expected) or time.monotonic() > deadline:
                return
            time.sleep(0.2)

    def _ends(self, *, cached: bool) -> dict[tuple[str, int], int]:
        consumer = self._consumer
        assert consumer is not None
        ends = {}
        for tp in consumer.assignment():
            _low, high = consumer.get_watermark_offsets(tp, timeout=10, cached=cached)
            ends[(tp.topic, tp.partition)] = high
        return ends

    def _read_to(self, ends: dict[tuple[str, int], int], deadline: float) -> None:
        consumer = self._consumer
        assert consumer is not None
        positions = {
            (tp.topic, tp.partition): tp.offset for tp in consumer.position(consumer.assignment())
        }
        waiting = {k for k, high in ends.items() if high > 0 and positions.get(k, -1) < high}
        while waiting and time.monotonic() < deadline:
            for msg in consumer.consume(num_messages=1000, timeout=0.2):
                if msg.error():
                    continue
                key = (msg.topic() or "", msg.partition() or 0)
                self._record(key[0], msg.value() or b"")
                if (msg.offset() or 0) + 1 >= ends.get(key, 0):
                    waiting.discard(key)
        if waiting:
            raise AssertionError(f"output partitions {sorted(waiting)} not read to their end")

    def _record(self, topic: str, value: bytes) -> None:
        self.messages += 1
        data: dict[str, Any] = orjson.loads(value)
        self.copies[str(data.get("event_id"))].add(value)
        if topic == self.topics.document_status.name and data.get("outcome") in CHANGES:
            self.announced[(data["document_id"], int(data["version"]))].add(data["outcome"])

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()

    # --- the checks -----------------------------------------------------------------------

    def redelivered(self) -> int:
        """Event ids seen more than once, in any form (the price of at-least-once)."""
        return sum(1 for values in self.copies.values() if len(values) > 1)

    def conflicting(self) -> list[str]:
        """Ids whose copies differ in more than when they were decided."""
        problems = []
        for event_id, values in self.copies.items():
            if len(values) < 2:
                continue
            parsed = [orjson.loads(v) for v in values]
            change = any(
                p.get("outcome") in CHANGES or p.get("kind") in ("flagged", "resolved")
                for p in parsed
            )
            if change:
                differ = sorted({k for p in parsed for k in p if p.get(k) != parsed[0].get(k)})
                problems.append(
                    f"{event_id}: {len(values)} copies of a change differ in {differ}: "
                    f"{parsed[0].get('outcome') or parsed[0].get('kind')} of "
                    f"{parsed[0].get('document_id')} v{parsed[0].get('version')}"
                )
                continue
            stripped = {
                orjson.dumps({k: p[k] for k in sorted(p) if k not in VOLATILE}) for p in parsed
            }
            if len(stripped) > 1:
                problems.append(f"{event_id}: copies differ: {sorted(stripped)[:2]}")
        return problems

    def unannounced(self, expected: dict[str, Expected]) -> list[str]:
        """Documents whose newest version has no status event on document.status."""
        return [
            f"{doc} v{want.version}: no document.status event (announced: "
            f"{sorted(v for d, v in self.announced if d == doc)})"
            for doc, want in expected.items()
            if not self.announced.get((doc, want.version))
        ]

    def superseded_unannounced(self, expected: dict[str, Expected]) -> list[str]:
        """Older versions never announced: the worker died between writing and publishing a
        batch in which the document changed again; its redelivery announces the newest state
        only (docs/contract.md#merge-semantics)."""
        return [
            f"{doc} v{version}"
            for doc, want in expected.items()
            for version in range(1, want.version)
            if not self.announced.get((doc, version))
        ]
