"""The worker heartbeat on worker.heartbeats (docs/contract.md#topics): who is alive, what it
owns, and when it last finished a batch."""

from __future__ import annotations

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import _Event


class AssignedPartition(BaseModel):
    model_config = ConfigDict(extra="allow")

    topic: str
    partition: int = Field(ge=0)


class WorkerHeartbeat(_Event):
    """Published by every merge worker every few seconds while it runs, and once when it stops."""

    worker_id: str
    host: str
    pid: int = Field(ge=0)
    started_at: AwareDatetime
    at: AwareDatetime
    # Seconds until a heartbeat counts as missed: readers call the worker gone after that.
    interval_seconds: float = Field(gt=0)
    assigned: list[AssignedPartition] = Field(default_factory=list)
    # When the worker last finished (wrote and acknowledged) a batch; null before its first.
    last_batch_at: AwareDatetime | None = None
    batches: int = Field(default=0, ge=0)
    # True on the last heartbeat of a worker that is shutting down cleanly.
    stopping: bool = False
