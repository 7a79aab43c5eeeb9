"""The worker heartbeat (docs/contract.md#health): on a faust timer, what this worker owns and
when it last finished a batch, on worker.heartbeats; `optimerge status` and the app read it."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from typing import Any

import faust

from agents.worker import MergeWorker
from schemas.health import AssignedPartition, WorkerHeartbeat

log = logging.getLogger(__name__)


def heartbeat(
    worker: MergeWorker, assigned: list[tuple[str, int]], *, stopping: bool = False
) -> WorkerHeartbeat:
    return WorkerHeartbeat(
        worker_id=worker.windows.worker_id,
        host=socket.gethostname(),
        pid=os.getpid(),
        started_at=worker.started_at,
        at=worker.clock(),
        interval_seconds=worker.settings.heartbeat_interval_seconds,
        assigned=[AssignedPartition(topic=t, partition=p) for t, p in sorted(assigned)],
        last_batch_at=worker.last_batch_at,
        batches=worker.batches,
        stopping=stopping,
    )


def publish_heartbeat(worker: MergeWorker, beat: WorkerHeartbeat) -> None:
    topic = worker.topics.worker_heartbeats
    worker.sink.send(topic.name, topic.encode(beat), key=topic.key(beat))
    worker.sink.flush(5.0)


def register_heartbeat(app: faust.App, worker: MergeWorker) -> Any:
    inputs = set(worker.topics.inputs())

    def assigned() -> list[tuple[str, int]]:
        # faust's own topics (its assignor's leader topic) are no work.
        return [(tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic in inputs]

    async def send(owned: list[tuple[str, int]]) -> None:
        worker.prometheus.assigned_partitions.set(len(owned))
        try:
            await asyncio.to_thread(publish_heartbeat, worker, heartbeat(worker, owned))
        except Exception:  # a missed beat is what readers notice; the worker goes on
            log.warning("could not publish the worker heartbeat", exc_info=True)

    @app.timer(interval=worker.settings.heartbeat_interval_seconds)  # type: ignore[untyped-decorator]
    async def beat() -> None:
        await send(assigned())

    # At once when partitions are assigned, so a worker shows alive without waiting an interval.
    pending: set[asyncio.Task[None]] = set()

    async def on_assigned(_app: Any, assigned: Any, **_kwargs: Any) -> None:
        owned = [(tp.topic, tp.partition) for tp in assigned if tp.topic in inputs]
        task = asyncio.get_running_loop().create_task(send(owned))
        pending.add(task)
        task.add_done_callback(pending.discard)

    app.on_partitions_assigned.connect(on_assigned)  # type: ignore[arg-type]

    async def last_beat(_app: Any, **_kwargs: Any) -> None:
        try:
            await asyncio.to_thread(publish_heartbeat, worker, heartbeat(worker, [], stopping=True))
        except Exception:
            log.warning("could not publish the last heartbeat", exc_info=True)

    app.on_before_shutdown.connect(last_beat)  # type: ignore[arg-type]
    return beat
