"""The fetch loop's delivery (streams/drain.py): inline when the callback need not wait, and
as faust does (raced against a flow suspension) when it must."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from streams.drain import deliver


class _Consumer:
    def __init__(self) -> None:
        self.suspend_flow = asyncio.Event()
        self.raced = 0

    async def wait_first(self, *coros: Any) -> None:
        self.raced += 1
        tasks = [asyncio.ensure_future(c) for c in coros]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        for task in done:
            task.result()


async def test_a_callback_that_never_waits_runs_inline() -> None:
    consumer, seen = _Consumer(), []

    async def callback() -> None:
        seen.append(1)

    await deliver(consumer, callback())
    assert seen == [1]
    assert consumer.raced == 0


async def test_a_callback_that_waits_is_finished_through_the_race() -> None:
    consumer, seen = _Consumer(), []
    gate = asyncio.Event()

    async def callback() -> None:
        seen.append("before")
        await gate.wait()
        await asyncio.sleep(0)
        seen.append("after")

    asyncio.get_running_loop().call_later(0.01, gate.set)
    await deliver(consumer, callback())
    assert seen == ["before", "after"]
    assert consumer.raced == 1


async def test_a_flow_suspension_frees_a_waiting_callback() -> None:
    consumer = _Consumer()

    async def callback() -> None:
        await asyncio.Event().wait()  # a full buffer that never drains

    asyncio.get_running_loop().call_later(0.01, consumer.suspend_flow.set)
    await asyncio.wait_for(deliver(consumer, callback()), timeout=5)


async def test_errors_propagate_whether_or_not_the_callback_waited() -> None:
    consumer = _Consumer()

    async def fails_at_once() -> None:
        raise KeyError("now")

    async def fails_later() -> None:
        await asyncio.sleep(0.001)
        raise KeyError("later")

    with pytest.raises(KeyError, match="now"):
        await deliver(consumer, fails_at_once())
    with pytest.raises(KeyError, match="later"):
        await deliver(consumer, fails_later())
