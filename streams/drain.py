"""faust's fetch loop (Consumer._drain_messages of faust-streaming 0.15.3), with one change:
each message's callback runs inline until it first has to wait.

faust races every message's callback against a flow suspension (a rebalance) in
`wait_first`: four tasks and an `asyncio.wait` per message, most of the event loop's time at
a few thousand messages a second. The callback mostly completes without waiting (it puts the
event on the stream's queue); only when it does wait does the message go the way faust sends
it, so a rebalance still frees a fetch loop held up by a full buffer."""

from __future__ import annotations

import asyncio
import types
from collections.abc import Coroutine, Generator
from typing import Any

from faust.transport.consumer import CONSUMER_FETCHING


async def deliver(consumer: Any, callback: Coroutine[Any, Any, Any]) -> None:
    """Run `callback` until it completes or first waits; if it waits, race the rest against a
    flow suspension, as faust does."""
    try:
        yielded = callback.send(None)
    except StopIteration:
        return
    await consumer.wait_first(_finish(callback, yielded), consumer.suspend_flow.wait())


async def _finish(callback: Coroutine[Any, Any, Any], yielded: Any) -> Any:
    return await _resumed(callback, yielded)


@types.coroutine
def _resumed(callback: Coroutine[Any, Any, Any], yielded: Any) -> Generator[Any, Any, Any]:
    """Drive a coroutine that already ran up to its first wait, as its own task would."""
    while True:
        try:
            value = yield yielded
        except GeneratorExit:
            callback.close()
            raise
        except BaseException as exc:
            try:
                yielded = callback.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = callback.send(value)
            except StopIteration as stop:
                return stop.value


async def drain_messages(consumer: Any, fetcher: Any) -> None:
    """faust's loop, line for line, but `deliver` in place of `wait_first` (module docstring)."""
    self = consumer
    callback = self.callback
    getmany = self.getmany
    consumer_should_stop = self._stopped.is_set
    fetcher_should_stop = fetcher._stopped.is_set
    get_read_offset = self._read_offset.__getitem__
    set_read_offset = self._read_offset.__setitem__
    flag_consumer_fetching = CONSUMER_FETCHING
    set_flag = self.diag.set_flag
    unset_flag = self.diag.unset_flag
    commit_every = self._commit_every
    acks_enabled_for = self.app.topics.acks_enabled_for
    yield_every = 100
    num_since_yield = 0
    sleep = asyncio.sleep
    try:
        while not (consumer_should_stop() or fetcher_should_stop()):
            set_flag(flag_consumer_fetching)
            ait = getmany(timeout=1.0)
            # Sleeping because sometimes getmany is called in a loop never releasing to the loop.
            await self.sleep(0)
            if not self.should_stop:
                async for tp, message in ait:
                    num_since_yield += 1
                    if num_since_yield > yield_every:
                        await sleep(0)
                        num_since_yield = 0
                    offset = message.offset
                    r_offset = get_read_offset(tp)
                    if r_offset is None or offset >= r_offset:
                        gap = offset - (r_offset or 0)
                        if gap > 1 and r_offset and acks_enabled_for(message.topic):
                            await self._add_gap(tp, r_offset + 1, offset)
                        if commit_every is not None and self._n_acked >= commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await deliver(self, callback(message))
                        set_read_offset(tp, offset)
                    else:
                        self.log.dev(
                            "DROPPED MESSAGE ROFF %r: k=%r v=%r",
                            offset,
                            message.key,
                            message.value,
                        )
                unset_flag(flag_consumer_fetching)
    except self.consumer_stopped_errors:
        if self.transport.app.should_stop:
            self.log.info("Broker stopped consumer, shutting down...")
            return
        raise
    except asyncio.CancelledError:
        if self.transport.app.should_stop:
            self.log.info("Consumer shutting down for user cancel.")
            return
        raise
    except Exception as exc:
        self.log.exception("Drain messages raised: %r", exc)
        raise
    finally:
        unset_flag(flag_consumer_fetching)
