"""The cluster fault plan (issue 18): three workers with instance ids under a steady feed on
three brokers and a Patroni pair (tests/faults/cluster.py), one of the workers inside a network
namespace. Each round (tests/faults/cluster_faults.py): a burst of SIGKILLs of random workers,
the broker leading the most partitions SIGKILLed, a worker paused (SIGSTOP) inside a transaction
past its session timeout and resumed (a zombie), the PostgreSQL primary SIGKILLed while COMMITs
wait for the standby (Patroni promotes it), the namespaced worker cut off for 30 s (20 s in the
bounded plan). After each fault the feed pauses until everything published is processed, and the
record, the audit chains and the output topics are checked (a checkpoint); then the feed goes
on. Figures per fault (tests/faults/cluster_report.py): recovery (the longest wait of an event it
touched), time until the victim was whole again, documents, lost, duplicated, and what
`optimerge status` said."""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from config import ResolvedSettings
from storage.db import connect
from streams.app import group_id
from streams.topics import Topics
from tests.faults.cluster import ClusterFaultInfra
from tests.faults.cluster_faults import broker_loss, isolation, primary_loss, worker_kills, zombie
from tests.faults.cluster_report import ClusterReport, Row
from tests.faults.feed import Feed
from tests.faults.health import StatusProbe
from tests.faults.outputs import OutputLedger
from tests.faults.progress import OwnershipMonitor, processed_times
from tests.faults.tally import Tally, tally
from tests.faults.workers import WorkerPool


@dataclass(frozen=True)
class ClusterPlan:
    workers: int = 3
    partitions: int = 6
    rate: float = 30.0  # events per second, steady
    rounds: int = 1
    worker_kills: int = 3  # per round, one burst
    kill_every: tuple[float, float] = (1.0, 2.5)
    replace_after: tuple[float, float] = (0.5, 2.0)
    isolate_for: float = 30.0
    # A zombie sleeps this much longer than its session timeout.
    pause_beyond_session: float = 3.0
    settle: float = 1.0
    isolated_slot: int = 2  # the worker that runs inside the namespace
    seed: int = 18

    @classmethod
    def bounded(cls) -> ClusterPlan:
        """`make test`: every fault once; the network cut 20 s, still past the worker's session
        (10 s), PostgreSQL's end of its transaction (10-11 s) and its broker requests' timeout
        (15 s), so its partitions move and it comes back to a group that went on without it."""
        return cls(isolate_for=20.0)

    @classmethod
    def long(cls) -> ClusterPlan:
        """`make chaos`: three rounds, eight worker kills a round."""
        return cls(rounds=3, worker_kills=8, kill_every=(0.5, 4.0))


class Run:
    """One run of the plan: the feed, the workers, the monitors, and the rows so far."""

    def __init__(
        self, infra: ClusterFaultInfra, plan: ClusterPlan, workdir: Path, log: Callable[[str], Any]
    ) -> None:
        self.infra, self.plan, self.log = infra, plan, log
        self.rng = random.Random(plan.seed)
        prefix = f"cfault-{uuid.uuid4().hex[:8]}."
        self.prefix = prefix
        self.settings: ResolvedSettings = infra.settings(prefix, plan.partitions)
        self.feed = Feed(
            infra.admin,
            Topics(prefix),
            patients=plan.partitions * 8,
            seed=plan.seed,
            signer=infra.signer,
        )
        self.pool = WorkerPool(
            self.settings,
            workdir,
            plan.workers,
            static=True,
            prefixes={plan.isolated_slot: infra.netns.exec_prefix()},
        )
        self.monitor = OwnershipMonitor(infra.admin, group_id(self.settings), workdir)
        self.ledger = OutputLedger(infra.admin, Topics(prefix))
        self.status = StatusProbe(self.settings)
        self.report = ClusterReport(plan=asdict(plan))
        self.t0 = time.time()
        self.session = self.settings.worker_session_timeout_seconds
        self._background: list[threading.Thread] = []
        self.primary_kills = 0
        self.background_errors: list[str] = []

    def since(self, at: float | None = None) -> float:
        return (at if at is not None else time.time()) - self.t0

    # --- checkpoints -------------------------------------------------------------------------

    def drain(self, timeout: float) -> dict[str, float]:
        keys = {p.action_id or p.event_id for p in self.feed.published}
        deadline = time.monotonic() + timeout
        done: dict[str, float] = {}
        while time.monotonic() < deadline:
            try:
                with connect(self.settings.migration_url, connect_timeout=3) as conn:
                    done = processed_times(conn)
            except Exception:
                done = {}
            if keys <= done.keys():
                return done
            time.sleep(0.3)
        missing = len(keys - done.keys())
        raise AssertionError(f"{missing} published events not processed within {timeout:.0f} s")

    def checkpoint(self, row: Row) -> Tally:
        """Pause the feed, wait until all of it is processed, check everything, go on."""
        row.until = row.until or time.time()
        started = time.monotonic()
        self.feed.pause()
        try:
            self.drain(timeout=180)
            drained = time.monotonic() - started
            with connect(self.settings.migration_url) as conn:
                found = tally(conn, self.feed.expected, self.feed.published, self.ledger)
        finally:
            self.feed.resume()
        row.checkpoint = True
        row.documents, row.lost, row.duplicated = found.documents, found.lost, found.duplicated
        row.problems = [f"{k}: {p}" for k, ps in found.problems.items() for p in ps]
        self.log(
            f"{row.fault}: checkpoint {found.documents} documents, lost {found.lost}, "
            f"duplicated {found.duplicated}, problems {len(row.problems)} "
            f"(drained in {drained:.1f} s, checked in {time.monotonic() - started - drained:.1f} s:"
            f" {found.seconds})"
        )
        return found

    def owned_by(self, index: int) -> list[int]:
        instance = self.pool.slots[index].instance_id
        snaps = self.monitor.snapshots
        last = snaps[-1].owners if snaps else {}
        return sorted(p for p, owner in last.items() if owner == instance)

    def wait_owning(self, index: int, timeout: float) -> float:
        """Seconds until the worker owns a partition again in a stable group."""
        started = time.monotonic()
        instance = self.pool.slots[index].instance_id
        while time.monotonic() - started < timeout:
            snaps = self.monitor.snapshots
            if snaps and "STABLE" in snaps[-1].state and instance in snaps[-1].owners.values():
                return time.monotonic() - started
            time.sleep(0.25)
        raise AssertionError(f"{instance} did not get partitions back within {timeout:.0f} s")

    # --- slow returns to health ----------------------------------------------------------------

    def background(self, work: Callable[[], object]) -> None:
        """Let a slow return to health (a JVM starting, a standby rejoining) run beside the
        next fault; `join_background` waits for it."""
        thread = threading.Thread(target=self._guarded, args=(work,), daemon=True)
        thread.start()
        self._background.append(thread)

    def _guarded(self, work: Callable[[], object]) -> None:
        try:
            work()
        except Exception as exc:
            self.background_errors.append(f"{type(exc).__name__}: {exc}")

    def join_background(self) -> None:
        for thread in self._background:
            thread.join(300)
        self._background = []

    # --- the whole run -----------------------------------------------------------------------

    def run(self) -> ClusterReport:
        plan = self.plan
        self.feed.plan(100)
        self.pool.start_all()
        self.monitor.start()
        try:
            instances = {slot.instance_id for slot in self.pool.slots}
            _wait_for_assignment(self.monitor, plan.partitions, instances, timeout=120)
            self.ledger.start()
            self.t0 = time.time()
            self.feed.start(plan.rate, self.settings.database_url, endless=True)
            self.log("feed started")
            for n in range(plan.rounds):
                self.log(f"round {n + 1} of {plan.rounds}")
                # Slow returns to health (a JVM restarting, the old primary rejoining) run in
                # the background while the next fault, of the other kind, goes on.
                for fault in (worker_kills, broker_loss, zombie, primary_loss, isolation):
                    time.sleep(plan.settle)
                    fault(self)
            self.feed.finish()
            self.join_background()
            finished = time.monotonic()
            done = self.drain(timeout=240)
            self.report.drain_seconds = time.monotonic() - finished
            # The workers publish just after writing: let them before they are stopped.
            self.ledger.until_announced(self.feed.expected, timeout=60)
            self.pool.check_exits()
            self.report.final_status = self.status.now()
        finally:
            self.monitor.stop()
            self.pool.close()
            self.feed.close()
        self.status.join()
        self._figures(done)
        with connect(self.settings.migration_url) as conn:
            final = tally(conn, self.feed.expected, self.feed.published, self.ledger, final=True)
        self.ledger.close()
        r = self.report
        r.final = final.problems
        r.final["nothing lost"] = [f"{final.lost} lost"] if final.lost else []
        r.final["nothing duplicated"] = (
            [f"{final.duplicated} duplicated"] if final.duplicated else []
        )
        r.published, r.processed = len(self.feed.published), len(done)
        r.outputs, r.redelivered_outputs = final.outputs, final.redelivered_outputs
        r.superseded_unannounced = final.superseded_unannounced
        r.unexpected_exits = self.pool.unexpected_exits
        r.final["back to health"] = self.background_errors
        return r

    def _figures(self, done: dict[str, float]) -> None:
        """Per fault: the longest any event of the partitions it touched waited, counted from
        the fault (or from when the event was sent, if later), among events sent before the
        fault's checkpoint: how long the pipeline took to be itself again."""
        sent = [p for p in self.feed.published if (p.action_id or p.event_id) in done]
        for row in self.report.rows:
            waits = [
                done[p.action_id or p.event_id or ""] - max(p.sent_at, row.since)
                for p in sent
                if (row.partitions is None or p.partition in row.partitions)
                and p.sent_at < row.until
                and done[p.action_id or p.event_id or ""] > row.since
            ]
            row.recovery = max(waits, default=0.0)


def _wait_for_assignment(
    monitor: OwnershipMonitor, partitions: int, workers: set[str], timeout: float
) -> None:
    """Until every partition is owned, by a stable group in which every worker has some."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snaps = monitor.snapshots
        last = snaps[-1] if snaps else None
        if (
            last is not None
            and "STABLE" in last.state
            and len(last.owners) >= partitions
            and workers <= set(last.owners.values())
        ):
            return
        time.sleep(0.25)
    raise AssertionError(
        f"workers {sorted(workers)} did not share all {partitions} partitions in {timeout} s"
    )


def run_cluster_faults(
    infra: ClusterFaultInfra, plan: ClusterPlan, workdir: Path, log: Callable[[str], Any] = print
) -> ClusterReport:
    return Run(infra, plan, workdir, log).run()


__all__ = ["ClusterPlan", "ClusterReport", "run_cluster_faults"]
