"""Whether each part of the pipeline is up, from what was measured (pure; docs/contract.md#health).

A report is `ok` when every component is, `down` when any is down. A worker counts as alive while
its latest heartbeat is younger than three of its intervals and it did not say it was stopping;
the consumer group is down when it has no member, the workers when none is alive."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

Status = Literal["ok", "down"]
MISSED_BEATS = 3


@dataclass(frozen=True, slots=True)
class Component:
    name: str
    status: Status
    summary: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HealthReport:
    at: datetime
    components: tuple[Component, ...]

    @property
    def status(self) -> Status:
        return "down" if any(c.status == "down" for c in self.components) else "ok"

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def component(self, name: str) -> Component:
        return next(c for c in self.components if c.name == name)

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "at": self.at.isoformat(),
            "components": {
                c.name: {"status": c.status, "summary": c.summary, **c.details}
                for c in self.components
            },
        }


def database_component(
    ok: bool, latency_ms: float, error: str | None, server: str | None = None
) -> Component:
    """`server`: the host:port that answered, so a failover shows as a new primary."""
    details = {**_ms(latency_ms), **({"server": server} if server else {})}
    if ok:
        where = f" ({server})" if server else ""
        return Component("postgresql", "ok", f"answers in {latency_ms:.0f} ms{where}", details)
    return Component("postgresql", "down", error or "does not answer", details)


def kafka_component(
    ok: bool,
    latency_ms: float,
    brokers: int,
    error: str | None,
    *,
    under_replicated: int = 0,
    offline: int = 0,
) -> Component:
    """Partitions of the pipeline's topics with a replica out of sync still work (a broker is
    away); one without a leader does not: nobody can read or write it."""
    details = {
        **_ms(latency_ms),
        "brokers": brokers,
        "under_replicated_partitions": under_replicated,
        "offline_partitions": offline,
    }
    if not ok:
        return Component("kafka", "down", error or "no broker answers", details)
    if offline:
        return Component("kafka", "down", f"{offline} partition(s) without a leader", details)
    replicas = f", {under_replicated} partition(s) under-replicated" if under_replicated else ""
    return Component(
        "kafka",
        "ok",
        f"{brokers} broker(s){replicas}, metadata in {latency_ms:.0f} ms",
        details,
    )


def _ms(latency_ms: float) -> dict[str, Any]:
    return {"latency_ms": round(latency_ms, 1)}


@dataclass(frozen=True, slots=True)
class WorkerSeen:
    """A worker's latest heartbeat, as the health check needs it."""

    worker_id: str
    at: datetime
    interval_seconds: float
    stopping: bool
    assigned: int
    last_batch_at: datetime | None
    batches: int

    def alive(self, now: datetime) -> bool:
        return not self.stopping and (now - self.at).total_seconds() <= (
            MISSED_BEATS * self.interval_seconds
        )


def workers_component(workers: Sequence[WorkerSeen], now: datetime) -> Component:
    alive = [w for w in workers if w.alive(now)]
    progress = [w.last_batch_at for w in alive if w.last_batch_at is not None]
    last = max(progress) if progress else None
    details: dict[str, Any] = {
        "alive": len(alive),
        "seconds_since_last_batch": None
        if last is None
        else round((now - last).total_seconds(), 1),
        "workers": [
            {
                "worker_id": w.worker_id,
                "alive": w.alive(now),
                "stopping": w.stopping,
                "last_heartbeat": w.at.isoformat(),
                "heartbeat_age_seconds": round((now - w.at).total_seconds(), 1),
                "assigned_partitions": w.assigned,
                "last_batch_at": w.last_batch_at.isoformat() if w.last_batch_at else None,
                "batches": w.batches,
            }
            for w in workers
        ],
    }
    if not alive:
        return Component("workers", "down", "no worker heartbeat: nothing is merging", details)
    return Component("workers", "ok", f"{len(alive)} alive", details)


@dataclass(frozen=True, slots=True)
class LagSeen:
    topic: str
    partition: int
    committed: int | None
    end: int
    lag: int
    owner: str | None


def group_component(
    group_id: str,
    state: str,
    members: int,
    partitions: Sequence[LagSeen],
    error: str | None,
) -> Component:
    details: dict[str, Any] = {
        "group_id": group_id,
        "state": state,
        "members": members,
        "total_lag": sum(p.lag for p in partitions),
        "unassigned_partitions": sum(1 for p in partitions if p.owner is None),
        "partitions": [
            {
                "topic": p.topic,
                "partition": p.partition,
                "committed": p.committed,
                "end": p.end,
                "lag": p.lag,
                "owner": p.owner,
            }
            for p in partitions
        ],
    }
    if error:
        return Component("consumer_group", "down", error, details)
    if members == 0:
        return Component(
            "consumer_group",
            "down",
            f"group {group_id} has no member: no worker consumes",
            details,
        )
    lag = details["total_lag"]
    return Component("consumer_group", "ok", f"{members} member(s), lag {lag}", details)
