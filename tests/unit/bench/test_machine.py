"""The machine's figures of a bench phase: /proc/stat and /proc/pressure/cpu as the kernel
writes them (proc(5), Documentation/accounting/psi.rst)."""

from __future__ import annotations

import os

import pytest

from optimerge.bench.machine import (
    MachineSnapshot,
    cpu_times,
    cpu_waiting,
    describe,
    machine_snapshot,
    shares,
)

TICKS = os.sysconf("SC_CLK_TCK")
STAT = (
    "cpu  3389150 6894 805150 4480705 30825 0 44361 8148 0 0\n"
    "cpu0 1694575 3447 402575 2240352 15412 0 22180 4074 0 0\n"
    "intr 123 0 0\n"
)
PRESSURE = (
    "some avg10=3.44 avg60=16.04 avg300=16.08 total=11503167726\n"
    "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n"
)


def test_busy_iowait_and_steal_come_from_the_all_cores_line():
    busy, iowait, steal = cpu_times(STAT)
    assert busy == pytest.approx((3389150 + 6894 + 805150 + 0 + 44361) / TICKS)
    assert iowait == pytest.approx(30825 / TICKS)
    assert steal == pytest.approx(8148 / TICKS)


@pytest.mark.parametrize("text", ["", "intr 1 2 3\n", "cpu 1 2 3\n"])
def test_a_stat_file_of_another_shape_is_refused_clearly(text):
    with pytest.raises(ValueError, match="/proc/stat"):
        cpu_times(text)


def test_the_wait_for_a_core_is_the_some_total_in_seconds():
    assert cpu_waiting(PRESSURE) == pytest.approx(11503.167726)
    assert cpu_waiting("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n") is None


def test_shares_of_a_phase():
    before = MachineSnapshot(wall=10.0, busy=100.0, iowait=5.0, steal=1.0, waiting=50.0)
    after = MachineSnapshot(wall=20.0, busy=110.0, iowait=6.0, steal=1.5, waiting=53.0)
    figures = shares(before, after, cores=2)
    assert figures == pytest.approx(
        {"cores_busy": 0.5, "iowait": 0.05, "steal": 0.025, "waiting_for_a_core": 0.3}
    )
    assert describe(figures) == (
        "cores busy 50 %, a task waiting for a core 30 % of the time, stolen 2 %, I/O wait 5 %"
    )


def test_a_machine_not_read_gives_no_figures():
    snap = MachineSnapshot(wall=1.0, busy=1.0, iowait=0.0, steal=0.0, waiting=None)
    assert shares(None, snap) == {} and shares(snap, snap) == {}
    later = MachineSnapshot(wall=2.0, busy=1.5, iowait=0.0, steal=0.0, waiting=None)
    assert shares(snap, later, cores=1)["waiting_for_a_core"] is None
    assert describe({}) == "n/a"


def test_this_machine_can_be_read():
    snap = machine_snapshot()
    assert snap is not None and snap.busy > 0
