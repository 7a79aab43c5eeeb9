"""CPU time of the processes a bench phase runs on, from /proc (Linux): the workers, the Kafka
broker (the process listening on the bootstrap port) and PostgreSQL (the postmaster and its
children; a backend that exits meanwhile is counted in the postmaster's cutime), and the
machine's busy time beside them (what processes not ours took)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from optimerge.bench.machine import TICKS, MachineSnapshot, machine_snapshot
from storage.db import connect

_PROC = Path("/proc")


def _stat(pid: int) -> list[str] | None:
    try:
        text = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: fields start after the last ')'.
    return text[text.rfind(")") + 2 :].split()


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """utime + stime of `pid` (all its threads), plus its reaped children's when asked."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    # Fields 14-17 of stat(5): utime stime cutime cstime (here 0-based after the name: 11..14).
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def children_of(pid: int) -> list[int]:
    found = []
    for entry in _PROC.iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields is not None and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def listener_pid(port: int) -> int | None:
    """The local process with a socket listening on `port`, if it is ours to see."""
    inodes = set()
    for table in ("tcp", "tcp6"):
        try:
            lines = (_PROC / "net" / table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    if not inodes:
        return None
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in inodes:
                    return int(entry.name)
        except OSError:
            continue
    return None


def postmaster_pid(database_url: str) -> int | None:
    """The postmaster serving `database_url`, when it runs on this machine."""
    with connect(database_url, autocommit=True) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
    fields = _stat(int(row[0])) if row else None
    return int(fields[1]) if fields is not None else None


def broker_port(bootstrap_servers: str) -> int | None:
    first = bootstrap_servers.split(",")[0].strip()
    host, _, port = first.rpartition(":")
    local = host in ("127.0.0.1", "localhost", "::1", "[::1]", "0.0.0.0", "")  # noqa: S104
    return int(port) if local and port.isdigit() else None


@dataclass(frozen=True, slots=True)
class CpuSnapshot:
    workers: float
    broker: float | None
    postgres: float | None
    bench: float
    machine: MachineSnapshot | None = None  # every process on the machine, ours or not


@dataclass(frozen=True, slots=True)
class CpuMeter:
    """Which processes to read: the workers', the broker's and the postmaster's pids."""

    workers: Sequence[int]
    broker: int | None
    postmaster: int | None

    @classmethod
    def find(cls, workers: Sequence[int], bootstrap_servers: str, database_url: str) -> CpuMeter:
        port = broker_port(bootstrap_servers)
        return cls(
            workers=list(workers),
            broker=listener_pid(port) if port else None,
            postmaster=postmaster_pid(database_url),
        )

    def snapshot(self) -> CpuSnapshot:
        postgres = None
        if self.postmaster is not None:
            postgres = cpu_seconds(self.postmaster, children=True) + sum(
                cpu_seconds(p) for p in children_of(self.postmaster)
            )
        return CpuSnapshot(
            workers=sum(cpu_seconds(p) for p in self.workers),
            broker=cpu_seconds(self.broker) if self.broker is not None else None,
            postgres=postgres,
            bench=cpu_seconds(os.getpid()),
            machine=machine_snapshot(),
        )


def ms_per_document(
    before: CpuSnapshot, after: CpuSnapshot, documents: int
) -> dict[str, float | None]:
    """CPU milliseconds per document of each process group between two snapshots."""

    def per(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else (b - a) * 1000 / documents

    figures = {
        "workers": per(before.workers, after.workers),
        "broker": per(before.broker, after.broker),
        "postgres": per(before.postgres, after.postgres),
        "publisher": per(before.bench, after.bench),
    }
    ours = sum(v for v in figures.values() if v is not None)
    figures["total"] = ours
    everything = None
    if before.machine is not None and after.machine is not None:
        everything = per(before.machine.busy, after.machine.busy)
    if everything is not None:
        # Read a moment apart from the processes': a few ticks below zero mean none.
        figures["others"] = max(0.0, everything - ours)
    return figures
