"""Progress of each partition, who owned it when, and how long it waited (the fault suite's
figures): from when each event reached the broker to when its change was audited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from config import KafkaEndpoint, kafka_env
from tests.faults.feed import Published


@dataclass(frozen=True)
class Snapshot:
    at: float
    state: str
    owners: dict[int, str]  # partition -> instance id


class OwnershipMonitor:
    """Who owns which partition, twice a second, from a watcher process of its own (see
    tests/faults/_ownership.py); restarted should it die."""

    def __init__(self, kafka: KafkaEndpoint, group: str, workdir: Path) -> None:
        self._argv = [sys.executable, "-m", "tests.faults._ownership", kafka.bootstrap, group]
        # The watcher authenticates as `kafka` does (OPTIMERGE_KAFKA__*).
        self._env = {**os.environ, **kafka_env(kafka.security)}
        self._out = workdir / "ownership.jsonl"
        self._proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.restarts = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._proc is None or self._proc.poll() is not None:
                if self._proc is not None:
                    self.restarts += 1
                self._proc = subprocess.Popen(
                    [*self._argv, str(self._out)],
                    env=self._env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    cwd=Path(__file__).resolve().parents[2],
                )
            self._stop.wait(0.5)
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait(10)

    @property
    def snapshots(self) -> list[Snapshot]:
        if not self._out.exists():
            return []
        snaps = []
        for line in self._out.read_text().splitlines():
            try:
                data = json.loads(line)
            except ValueError:
                continue
            owners = {int(p): o for p, o in data["owners"].items()}
            snaps.append(Snapshot(data["at"], data["state"], owners))
        return snaps

    def owner(self, partition: int, at: float) -> str | None:
        best = None
        for snap in self._cached():
            if snap.at > at + 0.5:
                break
            if partition in snap.owners:
                best = snap.owners[partition]
        return best

    def _cached(self) -> list[Snapshot]:
        if not hasattr(self, "_frozen"):
            self._frozen = self.snapshots
        return self._frozen


def processed_times(conn: psycopg.Connection) -> dict[str, float]:
    """When each event's change was made: merges by event id, review actions by action id."""
    rows = conn.execute(
        "SELECT coalesce(details->>'action_id', details->>'event_id'), "
        "extract(epoch FROM occurred_at) FROM audit_log"
    ).fetchall()
    return {key: float(at) for key, at in rows if key}


@dataclass
class Wait:
    partition: int
    start: float
    end: float
    owner: str | None
    cause: str  # live, dead_owner, outage

    @property
    def seconds(self) -> float:
        return self.end - self.start


@dataclass
class Figures:
    waits: list[Wait] = field(default_factory=list)
    # Per fault (name, time): seconds until its partitions progressed again.
    recoveries: list[tuple[str, float, float]] = field(default_factory=list)

    def longest(self, cause: str) -> float:
        return max((w.seconds for w in self.waits if w.cause == cause), default=0.0)


def _events_by_partition(
    published: Sequence[Published], done: dict[str, float]
) -> dict[int, list[tuple[float, float]]]:
    by_partition: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for event in published:
        key = event.action_id or event.event_id
        if key in done and event.partition >= 0:
            by_partition[event.partition].append((event.delivered_at, done[key]))
    return by_partition


def measure(
    published: Sequence[Published],
    done: dict[str, float],
    monitor: OwnershipMonitor,
    downs: dict[str, list[tuple[float, float]]],
    outages: list[tuple[str, float, float]],
    *,
    threshold: float = 1.0,
) -> Figures:
    """Every interval longer than `threshold` in which a partition had work and made none,
    with its cause; and, per fault, how long until its partitions moved again."""
    figures = Figures()
    by_partition = _events_by_partition(published, done)
    for partition, events in by_partition.items():
        events.sort(key=lambda e: e[1])
        suffix_min = [0.0] * len(events)
        low = float("inf")
        for i in range(len(events) - 1, -1, -1):
            low = min(low, events[i][0])
            suffix_min[i] = low
        previous = events[0][0]
        i = 0
        while i < len(events):
            now = events[i][1]
            start = max(previous, suffix_min[i])
            if now - start > threshold:
                owner = monitor.owner(partition, start)
                figures.waits.append(
                    Wait(partition, start, now, owner, _cause(owner, start, now, downs, outages))
                )
            while i < len(events) and events[i][1] == now:
                i += 1
            previous = now
    for instance, spans in downs.items():
        for down, _up in spans:
            owned = [p for p in by_partition if monitor.owner(p, down - 0.5) == instance]
            figures.recoveries.append(
                (f"worker {instance} down", down, _resume(by_partition, owned, down))
            )
    for name, _start, end in outages:
        figures.recoveries.append(
            (f"{name} back", end, _resume(by_partition, list(by_partition), end))
        )
    return figures


def _resume(
    by_partition: dict[int, list[tuple[float, float]]], partitions: list[int], since: float
) -> float:
    """Seconds after `since` until every one of `partitions` processed an event again (counted
    from when that event was available, if later)."""
    worst = 0.0
    for partition in partitions:
        later = [(q, d) for d, q in by_partition[partition] if q > since]
        if later:
            first_q, first_d = min(later)  # the first progress after `since`
            worst = max(worst, first_q - max(since, first_d))
    return worst


def _cause(
    owner: str | None,
    start: float,
    end: float,
    downs: dict[str, list[tuple[float, float]]],
    outages: list[tuple[str, float, float]],
) -> str:
    for _name, o_start, o_end in outages:
        if o_start - 1.0 <= end and start <= o_end + 1.0:
            return "outage"
    for down, up in downs.get(owner or "", []):
        if down - 1.0 <= end and start <= up:
            return "dead_owner"
    return "live"
