"""Dead letters: read them back from the DLQ topic, filter them, replay them to their source."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from schemas import DeadLetter
from streams.consumers import read_to_end
from streams.producer import EventProducer
from streams.topics import BoundTopic

REPLAY_HEADER = "x-optimerge-replay-of"


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
            and (not self.refs or stored.ref in self.refs)
        )


def read_dead_letters(
    bootstrap: str, topic: BoundTopic[DeadLetter], timeout: float = 10.0
) -> Iterator[StoredLetter]:
    """Every dead letter currently on the topic, oldest first per partition (no group commit)."""
    for record in read_to_end(bootstrap, topic.name, timeout):
        try:
            letter = topic.decode(record.value)
        except ValidationError:
            continue  # not ours: something else wrote to the DLQ topic
        yield StoredLetter(record.partition, record.offset, letter)


def replay(
    bootstrap: str, letters: Iterable[StoredLetter], *, payload_override: bytes | None = None
) -> int:
    """Publish each letter's payload (or a fixed one) back to its source topic, keyed as before.
    A letter that kept only the first bytes of its message (`payload_truncated`) is skipped
    unless a fixed payload is given: replaying a fragment would only be refused again."""
    count = 0
    with EventProducer(bootstrap) as producer:
        for stored in letters:
            letter = stored.letter
            if payload_override is None and letter.payload_truncated:
                continue
            value = (
                payload_override
                if payload_override is not None
                else letter.payload_bytes_as_received()
            )
            producer.send(
                letter.source_topic,
                value,
                key=letter.key,
                headers=[(REPLAY_HEADER, stored.ref.encode())],
            )
            count += 1
    return count
