"""Fan-out of live events to the browsers listening (Server-Sent Events).

The Kafka reader runs in a thread; each subscriber is an asyncio queue on the server's loop,
fed with `call_soon_threadsafe`. A subscriber that falls behind gets a `resync` instead of an
unbounded queue: its page then reloads what it shows."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from pydantic import ValidationError

from schemas import DeadLetter, DocumentStatusEvent, FlaggedItem
from streams.topics import BoundTopic

FLAGGED = "flagged"
STATUS = "status"
# New dead letters (the operator's DLQ page): no payload is sent, only ids and the reason.
DLQ = "dlq"
RESYNC = "resync"
KINDS = frozenset({FLAGGED, STATUS, DLQ})


@dataclass(frozen=True, slots=True)
class LiveEvent:
    kind: str
    event_id: str
    document_id: str
    data: bytes

    def sse(self) -> bytes:
        """The event in text/event-stream framing (its JSON is one line)."""
        return b"event: %s\nid: %s\ndata: %s\n\n" % (
            self.kind.encode(),
            self.event_id.encode(),
            self.data,
        )


def resync_event() -> LiveEvent:
    return LiveEvent(RESYNC, "resync", "", b"{}")


class Subscription:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        kinds: frozenset[str],
        document_id: str | None,
        size: int,
    ) -> None:
        self.loop = loop
        self.kinds = kinds
        self.document_id = document_id
        self.queue: asyncio.Queue[LiveEvent] = asyncio.Queue(size)

    def wants(self, event: LiveEvent) -> bool:
        if event.kind not in self.kinds:
            return False
        return self.document_id is None or event.document_id == self.document_id

    def offer(self, event: LiveEvent) -> None:
        """On the loop's thread."""
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            # Behind: drop what is queued and tell the page to reload its data instead.
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(resync_event())


class LiveHub:
    def __init__(self, *, queue_size: int = 256, remember: int = 10_000) -> None:
        self._lock = threading.Lock()
        self._subscriptions: set[Subscription] = set()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._remember = remember
        self._queue_size = queue_size

    @property
    def clients(self) -> int:
        with self._lock:
            return len(self._subscriptions)

    def publish(self, event: LiveEvent) -> bool:
        """Hand an event to every interested subscriber (any thread). Output events have
        deterministic ids, so a redelivered one is recognised and dropped: returns False."""
        with self._lock:
            if event.event_id in self._seen:
                return False
            self._seen[event.event_id] = None
            if len(self._seen) > self._remember:
                self._seen.popitem(last=False)
            targets = [s for s in self._subscriptions if s.wants(event)]
        for subscription in targets:
            # A closed loop means the server is shutting down: nobody to tell.
            with contextlib.suppress(RuntimeError):
                subscription.loop.call_soon_threadsafe(subscription.offer, event)
        return True

    @contextmanager
    def subscribe(
        self, *, kinds: frozenset[str] = KINDS, document_id: str | None = None
    ) -> Iterator[Subscription]:
        """On the event loop: a subscription that lives as long as the `with` block."""
        subscription = Subscription(
            asyncio.get_running_loop(), kinds, document_id, self._queue_size
        )
        with self._lock:
            self._subscriptions.add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                self._subscriptions.discard(subscription)


def live_event(
    kind: str,
    topic: BoundTopic[FlaggedItem] | BoundTopic[DocumentStatusEvent] | BoundTopic[DeadLetter],
    value: bytes,
) -> LiveEvent | None:
    """A LiveEvent from a flagged.items, document.status or dead-letter message; None if it is
    not one."""
    try:
        event = topic.decode(value)
    except ValidationError:
        return None
    if isinstance(event, DeadLetter):
        # The payload is the event as sent (patient data): browsers get the letter without it.
        data = event.model_dump_json(exclude={"payload"}).encode()
        return LiveEvent(kind, str(event.event_id), event.document_id or "", data)
    return LiveEvent(kind, str(event.event_id), event.document_id, event.model_dump_json().encode())
