"""Batches sized by the load: faust's `noack_take` with one change of policy.

`noack_take(max, within)` waits `within` after every batch before it yields the next, even when
events are already waiting, and a lone event waits for the timer: at 20 ms that is up to 20 ms
of latency per batch and an idle worker meanwhile. Here a batch goes as soon as the events that
have arrived are in it (the channel's queue is empty), or it is full, or `within` has passed
since its first event: a quiet stream commits within milliseconds. After a full batch the
stream is busy (a backlog in Kafka): the next one then fills up to `max_` or `within`, so that
a moment's empty queue between two fetches does not cut a busy stream into small batches.
Acks stay manual, as with `noack_take`: the caller acks a batch only once it is written.
`waiting()` says whether events for the next batch have already arrived."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


class LoadSizedBatches:
    """Lists of faust events from `stream`, not acked (see the module docstring)."""

    def __init__(self, stream: Any, max_: int, within: float) -> None:
        self._stream, self._max, self._within = stream, max_, within
        self._channel: Any = None
        self._held = 0  # an event taken from the queue, held until the batch in flight is done

    def waiting(self) -> int:
        """Events that have arrived and are not in a batch yet."""
        return self._queued() + self._held

    def _queued(self) -> int:
        queue = getattr(self._channel, "queue", None)
        return queue.qsize() if queue is not None else 0

    async def __aiter__(self) -> AsyncIterator[list[Any]]:
        stream, max_, within = self._stream, self._max, self._within
        buffer: list[Any] = []
        ready = asyncio.Event()
        consumed = asyncio.Event()
        consuming: asyncio.Future[None] | None = None
        channel = aiter(stream.channel)
        first_at: float | None = None
        busy = False  # the last batch was full
        loop = asyncio.get_running_loop()

        self._channel = channel
        waiting = self._queued  # what has arrived after the event in hand

        async def add_to_buffer(value: Any) -> Any:
            nonlocal consuming, first_at
            if consuming is not None:
                self._held = 1
                try:
                    await consuming
                finally:
                    consuming = None
                    self._held = 0
            event = stream.current_event
            if event is None:
                raise RuntimeError("batching found current_event is None")
            if not buffer:
                first_at = loop.time()
            buffer.append(event)
            if len(buffer) >= max_:
                ready.set()
                consumed.clear()
                await stream.wait(consumed)  # never more than max_ in a batch
            elif not busy and not waiting():
                ready.set()  # everything that has arrived is in: go now
            return value

        enable_acks = stream.enable_acks
        stream.enable_acks = False
        stream.add_processor(add_to_buffer)
        stream._enable_passive(channel)
        try:
            while not stream.should_stop:
                # Wake on a ready buffer; `within` bounds how long a trickle keeps one open.
                age = 0.0 if first_at is None else loop.time() - first_at
                await stream.wait_for_stopped(ready, timeout=max(0.001, within - age))
                if not buffer:
                    ready.clear()
                    continue
                if not ready.is_set() and first_at is not None and loop.time() - first_at < within:
                    continue
                consuming = loop.create_future()
                busy = len(buffer) >= max_
                try:
                    yield list(buffer)
                finally:
                    buffer.clear()
                    first_at = None
                    if not consuming.done():
                        consuming.set_result(None)
                    ready.clear()
                    consumed.set()
        finally:
            stream.enable_acks = enable_acks
            stream._processors.remove(add_to_buffer)
