"""The machine during a bench phase, from /proc (Linux): how busy its cores were (every process,
ours or not), the time lost to I/O waits and to the hypervisor (steal), and how long a runnable
task waited for a core (pressure stall information): what turns CPU time into latency."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100  # of /proc's CPU times
_STAT = Path("/proc/stat")
_PRESSURE = Path("/proc/pressure/cpu")


@dataclass(frozen=True, slots=True)
class MachineSnapshot:
    wall: float  # time.monotonic()
    busy: float  # CPU seconds over all cores: user, nice, system, irq, softirq
    iowait: float
    steal: float
    waiting: float | None  # seconds in which some runnable task waited for a core


def cpu_times(stat_text: str) -> tuple[float, float, float]:
    """(busy, iowait, steal) CPU seconds of all cores, from /proc/stat's first line."""
    fields = stat_text.split("\n", 1)[0].split()
    if not fields or fields[0] != "cpu":
        raise ValueError("/proc/stat does not start with the all-cores 'cpu' line")
    # proc(5): user nice system idle iowait irq softirq steal (guest is within user).
    ticks = [int(v) for v in fields[1:9]]
    if len(ticks) < 8:
        raise ValueError("/proc/stat's 'cpu' line has fewer than 8 fields (a kernel before 2.6.11)")
    user, nice, system, _idle, iowait, irq, softirq, steal = ticks
    return (user + nice + system + irq + softirq) / TICKS, iowait / TICKS, steal / TICKS


def cpu_waiting(pressure_text: str) -> float | None:
    """Seconds in which at least one runnable task waited for a core (the 'some' total)."""
    for line in pressure_text.splitlines():
        kind, *pairs = line.split()
        if kind == "some":
            for pair in pairs:
                key, _, value = pair.partition("=")
                if key == "total":
                    return int(value) / 1_000_000
    return None


def machine_snapshot() -> MachineSnapshot | None:
    """Now, or None where /proc/stat can't be read (not Linux)."""
    try:
        busy, iowait, steal = cpu_times(_STAT.read_text())
    except (OSError, ValueError):
        return None
    try:
        waiting = cpu_waiting(_PRESSURE.read_text())
    except OSError:
        waiting = None  # a kernel without PSI
    return MachineSnapshot(time.monotonic(), busy, iowait, steal, waiting)


def shares(
    before: MachineSnapshot | None, after: MachineSnapshot | None, cores: int | None = None
) -> dict[str, float | None]:
    """Shares of the phase: of all cores' time busy, in I/O wait and stolen; of the wall time,
    some task waiting for a core. Empty when the machine could not be read."""
    if before is None or after is None or after.wall <= before.wall:
        return {}
    wall = after.wall - before.wall
    capacity = wall * (cores or os.cpu_count() or 1)
    waited = None
    if before.waiting is not None and after.waiting is not None:
        waited = (after.waiting - before.waiting) / wall
    return {
        "cores_busy": (after.busy - before.busy) / capacity,
        "iowait": (after.iowait - before.iowait) / capacity,
        "steal": (after.steal - before.steal) / capacity,
        "waiting_for_a_core": waited,
    }


def describe(figures: dict[str, float | None] | None) -> str:
    """One line of `shares` for the command's table and the report."""
    if not figures:
        return "n/a"

    def pct(key: str) -> str:
        value = figures.get(key)
        return "n/a" if value is None else f"{value * 100:.0f} %"

    return (
        f"cores busy {pct('cores_busy')}, a task waiting for a core {pct('waiting_for_a_core')}"
        f" of the time, stolen {pct('steal')}, I/O wait {pct('iowait')}"
    )
