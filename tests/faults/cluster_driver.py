"""The cluster fault plan (issue 18): three workers with instance ids under a steady feed on
three brokers and a Patroni pair (tests/faults/cluster.py), one of the workers inside a network
namespace. Each round: a burst of SIGKILLs of random workers, the broker leading the most
partitions SIGKILLed, the PostgreSQL primary SIGKILLed (Patroni promotes the standby), a worker
paused (SIGSTOP) past its session timeout and resumed (a zombie), the namespaced worker cut off
from the network for 30 s. After each fault the feed pauses until everything published is
processed, and the record, the audit chains and the output topics are checked (a checkpoint);
then the feed goes on. Figures per fault: time to recover (until every partition it touched
made progress again), time until the victim was whole again, documents, lost, duplicated."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from config import ResolvedSettings
from storage.db import connect
from streams.app import group_id
from streams.topics import Topics
from tests.faults.cluster import ClusterFaultInfra
from tests.faults.feed import Feed
from tests.faults.health import StatusProbe
from tests.faults.in_doubt import CommitInDoubt
from tests.faults.outputs import OutputLedger
from tests.faults.progress import OwnershipMonitor, processed_times
from tests.faults.sessions import how_it_ended, strike_inside_transaction
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
        """`make test`: every fault once."""
        return cls()

    @classmethod
    def long(cls) -> ClusterPlan:
        """`make chaos`: three rounds, eight worker kills a round."""
        return cls(rounds=3, worker_kills=8, kill_every=(0.5, 4.0))


@dataclass
class Row:
    fault: str
    at: float
    detail: str = ""
    recovery: float | None = None
    # Until the victim was whole again: broker in sync, old primary a sync standby, the
    # zombie or the isolated worker back in the group.
    back: float | None = None
    checkpoint: bool = False
    documents: int = 0
    lost: int = 0
    duplicated: int = 0
    problems: list[str] = field(default_factory=list)
    during: str = ""
    # For the recovery figure: when it started, until when events sent count (the checkpoint,
    # or the next kill of a burst), and which partitions it touched (None: all).
    since: float = 0.0
    until: float = 0.0
    partitions: list[int] | None = None


@dataclass
class ClusterReport:
    plan: dict[str, Any]
    rows: list[Row] = field(default_factory=list)
    published: int = 0
    processed: int = 0
    outputs: int = 0
    redelivered_outputs: int = 0
    superseded_unannounced: list[str] = field(default_factory=list)
    drain_seconds: float = 0.0
    final: dict[str, list[str]] = field(default_factory=dict)
    final_status: str = ""
    unexpected_exits: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return (
            not any(self.final.values())
            and not self.unexpected_exits
            and all(not r.problems and not r.lost and not r.duplicated for r in self.rows)
        )

    def worst(self, name: str) -> float:
        return max((r.recovery or 0.0 for r in self.rows if r.fault.startswith(name)), default=0)

    def table(self) -> str:
        head = (
            f"{'fault':<26}{'at s':>7}{'recover s':>10}{'back s':>8}{'docs':>6}{'lost':>5}"
            f"{'dup':>5}  detail"
        )
        lines = [head, "-" * 110]
        for r in self.rows:
            rec = f"{r.recovery:.1f}" if r.recovery is not None else "-"
            back = f"{r.back:.1f}" if r.back is not None else "-"
            figures = (
                f"{r.documents:>6}{r.lost:>5}{r.duplicated:>5}" if r.checkpoint else f"{'':>16}"
            )
            lines.append(f"{r.fault:<26}{r.at:>7.1f}{rec:>10}{back:>8}{figures}  {r.detail}")
            if r.during:
                lines.append(f"{'':<26}  status during: {r.during}")
            for problem in r.problems[:3]:
                lines.append(f"{'':<26}  PROBLEM {problem}")
        lines += [
            "-" * 110,
            f"events published / processed       {self.published} / {self.processed}",
            f"output events read / ids redelivered {self.outputs} / {self.redelivered_outputs}",
            "older versions never announced      "
            f"{len(self.superseded_unannounced)} {self.superseded_unannounced[:5]}",
            f"drain after the feed ended         {self.drain_seconds:.1f} s",
            f"status at the end                  {self.final_status}",
        ]
        for check, problems in self.final.items():
            verdict = "ok" if not problems else f"{len(problems)} problem(s): {problems[:3]}"
            lines.append(f"{check:<35}{verdict}")
        if self.unexpected_exits:
            lines.append(f"workers that exited by themselves: {self.unexpected_exits}")
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, default=str))


class _Run:
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
            infra.bootstrap, Topics(prefix), patients=plan.partitions * 8, seed=plan.seed
        )
        self.pool = WorkerPool(
            self.settings,
            workdir,
            plan.workers,
            static=True,
            prefixes={plan.isolated_slot: infra.netns.exec_prefix()},
        )
        self.monitor = OwnershipMonitor(infra.bootstrap, group_id(self.settings), workdir)
        self.ledger = OutputLedger(infra.bootstrap, Topics(prefix))
        self.status = StatusProbe(self.settings)
        self.report = ClusterReport(plan=asdict(plan))
        self.t0 = time.time()
        self.session = self.settings.worker_session_timeout_seconds
        self._background: list[threading.Thread] = []
        self._primary_kills = 0
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
                with connect(self.settings.database_url, connect_timeout=3) as conn:
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
            with connect(self.settings.database_url) as conn:
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

    # --- faults ------------------------------------------------------------------------------

    def worker_kills(self) -> None:
        plan, pool = self.plan, self.pool
        due: list[tuple[float, int]] = []
        rows = []
        for n in range(plan.worker_kills):
            pause_until = time.monotonic() + self.rng.uniform(*plan.kill_every)
            while time.monotonic() < pause_until:
                due = _replace_due(pool, due)
                time.sleep(0.05)
            down = {i for _, i in due}
            candidates = [i for i in pool.alive() if i not in down]
            if not candidates:
                continue
            victim = self.rng.choice(candidates)
            owned = self.owned_by(victim)
            at = time.time()
            if rows:
                rows[-1].until = at
            pool.kill(victim)
            back = self.rng.uniform(*plan.replace_after)
            due.append((time.monotonic() + back, victim))
            instance = pool.slots[victim].instance_id
            rows.append(
                Row(
                    "SIGKILL worker",
                    self.since(at),
                    f"{instance} (#{n + 1}, partitions {owned}), replaced after {back:.1f} s",
                    since=at,
                    partitions=owned,
                )
            )
        while due:
            due = _replace_due(pool, due)
            time.sleep(0.05)
        self.report.rows += rows
        if rows:
            self.checkpoint(rows[-1])

    def broker_loss(self) -> None:
        self.join_background()  # the previous broker back in sync first
        coordinator = self._coordinator()
        at = time.time()
        kill = self.infra.kill_leading_broker(self.prefix, coordinator)
        row = Row(
            "SIGKILL leading broker",
            self.since(at),
            f"broker {kill.node_id} led {kill.led} of {kill.of} partitions"
            + (", group coordinator" if kill.coordinator else ""),
            since=at,
        )
        self.report.rows.append(row)
        self.log(f"broker {kill.node_id} SIGKILLed ({row.detail})")
        # After KRaft's broker session (9 s): the broker is fenced, its leaders moved.
        probe = self.status.later(row, "during", delay=10)
        self.checkpoint(row)
        probe.join(60)  # seen down, before it is restarted

        def restart() -> None:
            row.back = self.infra.restart_broker()
            row.detail += f"; restarted, in every ISR again {row.back:.1f} s after its start"

        self.background(restart)

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

    def _coordinator(self) -> int | None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.infra.bootstrap, "log_level": 0})
        try:
            group = group_id(self.settings)
            description = admin.describe_consumer_groups([group])[group].result(10)
            return int(description.coordinator.id)
        except Exception:
            return None

    def primary_loss(self) -> None:
        """SIGKILL the primary while COMMITs wait for the standby (tests/faults/in_doubt.py):
        in doubt for the workers, and either on the standby (`replicated`) or gone with the
        primary (`lost`), by turns."""
        self.join_background()  # a pair again first
        fate = ("replicated", "lost")[self._primary_kills % 2]
        self._primary_kills += 1
        before = self.infra.writable()
        database = str(conninfo_to_dict(self.settings.database_url)["dbname"])
        doubt = CommitInDoubt(self.infra, database)
        doubt.hold_replication()
        frozen = doubt.freeze_waiting_commits(timeout=30)
        if fate == "replicated":
            doubt.release_replication()
        at = time.time()
        doubt.kill_primary()
        row = Row(
            "SIGKILL PostgreSQL primary",
            self.since(at),
            f"primary was {before}; {len(frozen)} COMMIT(s) in doubt, "
            + ("on the standby" if fate == "replicated" else "never on the standby"),
            since=at,
        )
        self.report.rows.append(row)
        self.log(f"primary {before} SIGKILLed with {len(frozen)} COMMIT(s) in doubt ({fate})")
        writable = self.infra.wait_writable()
        row.detail += f"; writable again after {writable:.1f} s on {self.infra.writable()}"
        self.status.later(row, "during")
        self.checkpoint(row)

        def rejoin() -> None:
            self.infra.wait_pair()
            row.back = time.time() - at
            row.detail += f"; old primary a sync standby again {row.back:.1f} s after the kill"

        self.background(rejoin)

    def _strike(
        self, index: int, strike: Callable[[], None], undo: Callable[[], None], row: Row
    ) -> None:
        """Strike worker `index` inside a transaction (its patients' rows locked), and watch
        PostgreSQL end that transaction by itself (idle_in_transaction_session_timeout)."""
        instance = self.pool.slots[index].instance_id
        held = strike_inside_transaction(self.settings.database_url, instance, strike, undo)
        row.since = time.time()
        row.at = self.since(row.since)
        if held is None:
            row.detail += "; not caught inside a transaction"
            return
        waiting = f", waiting for {held.wait_event}" if held.wait_event else ""
        row.detail += f"; struck inside a transaction (backend {held.state}{waiting})"

        def watch() -> None:
            row.detail += "; " + how_it_ended(self.settings.database_url, held, timeout=60)

        self.background(watch)

    def zombie(self) -> None:
        host_slots = [i for i in self.pool.alive() if i != self.plan.isolated_slot]
        victim = self.rng.choice(host_slots)
        instance = self.pool.slots[victim].instance_id
        owned = self.owned_by(victim)
        seconds = self.session + self.plan.pause_beyond_session
        row = Row(
            "SIGSTOP worker (zombie)",
            0.0,
            f"{instance} (partitions {owned}) paused {seconds:.0f} s, session {self.session:.0f} s",
            partitions=owned,
        )
        self.report.rows.append(row)
        self._strike(victim, lambda: self.pool.pause(victim), lambda: self.pool.resume(victim), row)
        self.log(f"{instance} SIGSTOPped for {seconds:.0f} s")
        time.sleep(seconds - 3)
        self.status.later(row, "during")
        time.sleep(max(0.0, row.since + seconds - time.time()))
        self.pool.resume(victim)
        row.back = self.wait_owning(victim, timeout=60)
        self.checkpoint(row)
        row.detail += f"; SIGCONT, owns partitions again after {row.back:.1f} s"
        row.detail += f"; its log: {_fencing_lines(self.pool.log_text(victim))}"

    def isolation(self) -> None:
        index = self.plan.isolated_slot
        instance = self.pool.slots[index].instance_id
        owned = self.owned_by(index)
        netns = self.infra.netns
        row = Row(
            "network cut (netns)",
            0.0,
            f"{instance} (partitions {owned}) cut off for {self.plan.isolate_for:.0f} s",
            partitions=owned,
        )
        self.report.rows.append(row)
        self._strike(index, netns.cut, netns.restore, row)
        self.log(f"{instance}'s link cut for {self.plan.isolate_for:.0f} s")
        time.sleep(self.plan.isolate_for - 4)
        self.status.later(row, "during")
        time.sleep(max(0.0, row.since + self.plan.isolate_for - time.time()))
        netns.restore()
        row.back = self.wait_owning(index, timeout=90)
        self.checkpoint(row)
        row.detail += f"; link up, owns partitions again after {row.back:.1f} s"
        row.detail += f"; its log: {_fencing_lines(self.pool.log_text(index))}"

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
                for fault in (
                    self.worker_kills,
                    self.broker_loss,
                    self.zombie,
                    self.primary_loss,
                    self.isolation,
                ):
                    time.sleep(plan.settle)
                    fault()
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
        with connect(self.settings.database_url) as conn:
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


def _replace_due(pool: WorkerPool, due: list[tuple[float, int]]) -> list[tuple[float, int]]:
    now = time.monotonic()
    for at, index in due:
        if at <= now:
            pool.start(index)
    return [(at, index) for at, index in due if at > now]


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


_FENCING = ("CommitFailedError", "IllegalGeneration", "UnknownMemberId", "FencedInstanceId",
            "REBALANCE_IN_PROGRESS", "RebalanceInProgress")  # fmt: skip


def _fencing_lines(log: str) -> str:
    found = {marker: log.count(marker) for marker in _FENCING if marker in log}
    return ", ".join(f"{k} x{v}" for k, v in found.items()) or "no fencing message"


def run_cluster_faults(
    infra: ClusterFaultInfra, plan: ClusterPlan, workdir: Path, log: Callable[[str], Any] = print
) -> ClusterReport:
    return _Run(infra, plan, workdir, log).run()


__all__ = ["ClusterPlan", "ClusterReport", "run_cluster_faults"]
