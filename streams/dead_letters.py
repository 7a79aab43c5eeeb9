"""Dead letters: read them back from the DLQ topic, filter them, replay them to their source
with headers naming the letter, who retried it and the retry (docs/contract.md#dead-letters)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from schemas import DeadLetter
from streams.consumers import read_to_end
from streams.producer import EventProducer
from streams.security import Kafka
from streams.topics import BoundTopic

REPLAY_HEADER = "x-optimerge-replay-of"
# Set by operator retries (the app, the CLI): who asked, and the retry's audit reference.
REPLAYED_BY_HEADER = "x-optimerge-replayed-by"
RETRY_ID_HEADER = "x-optimerge-retry-id"


@dataclass(frozen=True, slots=True)
class StoredLetter:
    partition: int
    offset: int
    letter: DeadLetter

    @property
    def ref(self) -> str:
        return f"{self.partition}:{self.offset}"


@dataclass(frozen=True, slots=True)
class LetterFilter:
    kind: str | None = None
    document_id: str | None = None
    patient_id: str | None = None
    reason_contains: str | None = None
    since: datetime | None = None
    refs: frozenset[str] = frozenset()
    until: datetime | None = None

    def matches(self, stored: StoredLetter) -> bool:
        letter = stored.letter
        return (
            (self.kind is None or letter.error_kind == self.kind)
            and (self.document_id is None or letter.document_id == self.document_id)
            and (self.patient_id is None or letter.key == self.patient_id)
            and (
                self.reason_contains is None
                or self.reason_contains.lower() in letter.reason.lower()
            )
            and (self.since is None or letter.at >= self.since)
            and (self.until is None or letter.at < self.until)
            and (not self.refs or stored.ref in self.refs)
        )


def read_dead_letters(
    kafka: Kafka, topic: BoundTopic[DeadLetter], timeout: float = 10.0
) -> Iterator[StoredLetter]:
    """Every dead letter currently on the topic, oldest first per partition (no group commit)."""
    for record in read_to_end(kafka, topic.name, timeout):
        try:
            letter = topic.decode(record.value)
        except ValidationError:
            continue  # not ours: something else wrote to the DLQ topic
        yield StoredLetter(record.partition, record.offset, letter)


@dataclass(frozen=True, slots=True)
class Replay:
    """One letter to send back: what to publish, and the headers naming who and why."""

    stored: StoredLetter
    value: bytes
    retry_id: str
    requested_by: str


def replay_each(kafka: Kafka, replays: Iterable[Replay]) -> dict[str, tuple[int, int]]:
    """Publish each replay to its letter's source topic, keyed as before; returns where each
    landed (retry id -> partition, offset) once Kafka has confirmed them all."""
    landed: dict[str, tuple[int, int]] = {}
    with EventProducer(kafka) as producer:
        for r in replays:
            letter = r.stored.letter

            def note(partition: int, offset: int, retry_id: str = r.retry_id) -> None:
                landed[retry_id] = (partition, offset)

            producer.send(
                letter.source_topic,
                r.value,
                key=letter.key,
                headers=[
                    (REPLAY_HEADER, r.stored.ref.encode()),
                    (REPLAYED_BY_HEADER, r.requested_by.encode()),
                    (RETRY_ID_HEADER, r.retry_id.encode()),
                ],
                on_delivered=note,
            )
    return landed
