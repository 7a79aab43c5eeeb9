"""The fault plan, its run, and the report. `run_faults` is meant to be reused: a plan says how
many workers and which faults; the infrastructure is given (tests/faults/infra.py today, a
cluster of brokers with a PostgreSQL standby tomorrow) and needs only kill/restart methods."""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from config import KafkaEndpoint, ResolvedSettings
from domain.signing import SigningKey
from storage.db import connect
from streams.app import group_id
from streams.topics import Topics
from tests.faults import invariants
from tests.faults.feed import Feed
from tests.faults.progress import Figures, OwnershipMonitor, measure, processed_times
from tests.faults.workers import WorkerPool


class Infrastructure(Protocol):
    bootstrap: str
    database_url: str

    @property
    def admin(self) -> KafkaEndpoint: ...
    @property
    def signer(self) -> SigningKey: ...

    def settings(self, prefix: str, partitions: int) -> ResolvedSettings: ...
    def kill_postgres(self) -> None: ...
    def restart_postgres(self) -> float: ...
    def kill_kafka(self) -> None: ...
    def restart_kafka(self) -> float: ...


@dataclass(frozen=True)
class FaultPlan:
    workers: int = 3
    partitions: int = 6
    rate: float = 40.0  # events per second, steady
    worker_kills: int = 10
    kill_every: tuple[float, float] = (1.5, 3.5)  # seconds between kills (uniform)
    replace_after: tuple[float, float] = (0.5, 3.0)  # seconds until the killed one is back
    postgres_kills: int = 1
    kafka_kills: int = 1
    outage: float = 2.0  # seconds a killed server stays down
    settle: float = 6.0  # seconds of calm before and between faults
    static_membership: bool = True
    seed: int = 12

    @classmethod
    def bounded(cls) -> FaultPlan:
        """The form in `make test`: every fault once, six worker kills, 3 s of calm between
        faults (the SIGTERM waits for its victim to be ready, a server kill for every worker):
        about 60 s."""
        return cls(worker_kills=6, settle=3.0)

    @classmethod
    def long(cls) -> FaultPlan:
        """`make chaos`: forty worker kills every few seconds, servers killed thrice."""
        return cls(worker_kills=40, kill_every=(1.0, 5.0), postgres_kills=3, kafka_kills=3)

    def duration(self) -> float:
        churn = self.worker_kills * sum(self.kill_every) / 2 + max(self.replace_after)
        servers = (self.postgres_kills + self.kafka_kills) * (self.outage + self.settle + 8)
        return self.settle * 2 + churn + 5 + servers


@dataclass
class Fault:
    name: str
    at: float  # seconds since the feed started
    detail: str = ""
    recovery: float | None = None


@dataclass
class Report:
    plan: dict[str, Any]
    faults: list[Fault] = field(default_factory=list)
    published: int = 0
    processed: int = 0
    longest_live_wait: float = 0.0
    longest_dead_worker_recovery: float = 0.0
    postgres_recovery: float = 0.0
    kafka_recovery: float = 0.0
    sigterm_exit_seconds: float = 0.0
    drain_seconds: float = 0.0
    problems: dict[str, list[str]] = field(default_factory=dict)
    waits: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(self.problems.values())

    def table(self) -> str:
        lines = [
            f"{'fault':<28} {'at (s)':>7} {'recovered in (s)':>17}  detail",
            "-" * 78,
        ]
        for f in self.faults:
            rec = f"{f.recovery:.1f}" if f.recovery is not None else "-"
            lines.append(f"{f.name:<28} {f.at:>7.1f} {rec:>17}  {f.detail}")
        lines += [
            "-" * 78,
            f"events published / processed        {self.published} / {self.processed}",
            f"longest wait of a live partition    {self.longest_live_wait:.1f} s (target <= 15)",
            "dead worker's partitions resumed in "
            f"{self.longest_dead_worker_recovery:.1f} s at worst (target <= 30)",
            f"PostgreSQL back -> progress         {self.postgres_recovery:.1f} s",
            f"Kafka back -> progress              {self.kafka_recovery:.1f} s",
            f"SIGTERM mid-batch -> exit           {self.sigterm_exit_seconds:.1f} s (< 10)",
            f"drain after the feed ended          {self.drain_seconds:.1f} s",
        ]
        for check, problems in self.problems.items():
            verdict = "ok" if not problems else f"{len(problems)} problem(s): {problems[:3]}"
            lines.append(f"{check:<36}{verdict}")
        return "\n".join(lines)

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2, default=str))


class _Clock:
    def __init__(self) -> None:
        self.t0 = time.time()

    def since(self, at: float | None = None) -> float:
        return (at if at is not None else time.time()) - self.t0


def _wait_for_assignment(monitor: OwnershipMonitor, partitions: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        snaps = monitor.snapshots
        if snaps and len(snaps[-1].owners) >= partitions and "STABLE" in snaps[-1].state:
            return
        time.sleep(0.25)
    raise AssertionError(f"the workers did not take all {partitions} partitions in {timeout} s")


def run_faults(infra: Infrastructure, plan: FaultPlan, workdir: Path, log: Any = print) -> Report:
    rng = random.Random(plan.seed)
    prefix = f"fault-{uuid.uuid4().hex[:8]}."
    settings = infra.settings(prefix, plan.partitions)
    feed = Feed(
        infra.admin,
        Topics(prefix),
        patients=plan.partitions * 8,
        seed=plan.seed,
        signer=infra.signer,
    )
    feed.plan(int(plan.rate * plan.duration() / 2.1))
    pool = WorkerPool(settings, workdir, plan.workers, plan.static_membership)
    monitor = OwnershipMonitor(infra.admin, group_id(settings), workdir)
    report = Report(plan=asdict(plan))
    outages: list[tuple[str, float, float]] = []
    pool.start_all()
    monitor.start()
    try:
        _wait_for_assignment(monitor, plan.partitions, timeout=90)
        clock = _Clock()
        feed.start(plan.rate, settings.database_url)
        log(f"feed started ({feed.pending} documents planned); first fault in {plan.settle:.0f} s")
        time.sleep(plan.settle)
        _churn(pool, plan, rng, report, clock, log)
        time.sleep(plan.settle)
        _terminate_mid_batch(pool, feed, rng, report, clock, log)
        for _ in range(plan.postgres_kills):
            time.sleep(plan.settle)
            pool.wait_all_ready()  # a server outage, not a worker's start checks meeting it
            outages.append(_server_outage("PostgreSQL", infra, plan, report, clock, log))
        for _ in range(plan.kafka_kills):
            time.sleep(plan.settle)
            pool.wait_all_ready()
            outages.append(_server_outage("Kafka", infra, plan, report, clock, log))
        log("all faults done; publishing the rest of the feed")
        feed.finish()
        finished = time.monotonic()
        done = _drain(settings, feed, timeout=240)
        report.drain_seconds = time.monotonic() - finished
        pool.check_exits()
    finally:
        monitor.stop()
        pool.close()
    report.published, report.processed = len(feed.published), len(done)
    downs = {
        slot.instance_id: list(zip(slot.downs, [*slot.ups[1:], time.time()], strict=False))
        for slot in pool.slots
    }
    figures = measure(feed.published, done, monitor, downs, outages)
    _fill_figures(report, figures, clock)
    with connect(settings.migration_url) as conn:
        report.problems = {
            "documents at newest version once": invariants.documents_at_newest_version(
                conn, feed.expected
            ),
            "resources not lost nor duplicated": invariants.resources_neither_lost_nor_duplicated(
                conn, feed.expected
            ),
            "one audit entry per change": invariants.one_audit_entry_per_change(
                conn, feed.expected
            ),
            "audit chains verified": invariants.chains_verified(conn),
            "every action decided once": invariants.every_action_decided_once(conn, feed.published),
            "no worker exited by itself": invariants.no_worker_exited_by_itself(
                pool.unexpected_exits
            ),
        }
    return report


def _churn(
    pool: WorkerPool, plan: FaultPlan, rng: random.Random, report: Report, clock: _Clock, log: Any
) -> None:
    """SIGKILL a random live worker at random moments; each comes back after a while."""
    due: list[tuple[float, int]] = []
    for n in range(plan.worker_kills):
        pause_until = time.monotonic() + rng.uniform(*plan.kill_every)
        while time.monotonic() < pause_until:
            due = _replace_due(pool, due)
            time.sleep(0.05)
        down = {i for _, i in due}
        candidates = [i for i in pool.alive() if i not in down]
        if not candidates:
            continue
        victim = rng.choice(candidates)
        pool.kill(victim)
        back = rng.uniform(*plan.replace_after)
        due.append((time.monotonic() + back, victim))
        instance = pool.slots[victim].instance_id
        report.faults.append(
            Fault(
                "SIGKILL worker", clock.since(), f"{instance} (#{n + 1}), back after {back:.1f} s"
            )
        )
    while due:
        due = _replace_due(pool, due)
        time.sleep(0.05)
    log(f"{plan.worker_kills} worker kills done")


def _replace_due(pool: WorkerPool, due: list[tuple[float, int]]) -> list[tuple[float, int]]:
    now = time.monotonic()
    for at, index in due:
        if at <= now:
            pool.start(index)
    return [(at, index) for at, index in due if at > now]


def _terminate_mid_batch(
    pool: WorkerPool, feed: Feed, rng: random.Random, report: Report, clock: _Clock, log: Any
) -> None:
    victim = rng.choice(pool.alive())
    pool.wait_ready(victim)
    feed.burst(400)  # every worker gets full batches: the SIGTERM lands inside one
    time.sleep(0.3)
    took = pool.terminate(victim)
    report.sigterm_exit_seconds = took
    instance = pool.slots[victim].instance_id
    report.faults.append(
        Fault("SIGTERM worker mid-batch", clock.since(), f"{instance} exited in {took:.1f} s")
    )
    time.sleep(1.0)
    pool.start(victim)
    pool.wait_ready(victim)
    log(f"SIGTERM of {instance}: exited in {took:.1f} s")


def _server_outage(
    name: str, infra: Infrastructure, plan: FaultPlan, report: Report, clock: _Clock, log: Any
) -> tuple[str, float, float]:
    start = time.time()
    (infra.kill_postgres if name == "PostgreSQL" else infra.kill_kafka)()
    time.sleep(plan.outage)
    took = (infra.restart_postgres if name == "PostgreSQL" else infra.restart_kafka)()
    end = time.time()
    report.faults.append(Fault(f"SIGKILL {name}", clock.since(start), f"restarted in {took:.1f} s"))
    log(f"{name} killed and restarted ({took:.1f} s)")
    return name, start, end


def _drain(settings: ResolvedSettings, feed: Feed, timeout: float) -> dict[str, float]:
    keys = {p.action_id or p.event_id for p in feed.published}
    deadline = time.monotonic() + timeout
    while True:
        try:
            with connect(settings.migration_url) as conn:
                done = processed_times(conn)
        except Exception:
            done = {}
        if keys <= done.keys() or time.monotonic() > deadline:
            return done
        time.sleep(0.5)


def _fill_figures(report: Report, figures: Figures, clock: _Clock) -> None:
    report.longest_live_wait = figures.longest("live")
    report.waits = [
        {
            "partition": w.partition,
            "from_s": round(clock.since(w.start), 2),
            "seconds": round(w.seconds, 2),
            "owner": w.owner,
            "cause": w.cause,
        }
        for w in figures.waits
    ]
    kills = iter(f for f in report.faults if f.name == "SIGKILL worker" or "SIGTERM" in f.name)
    for name, at, seconds in sorted(figures.recoveries, key=lambda r: r[1]):
        if name.startswith("worker"):
            report.longest_dead_worker_recovery = max(report.longest_dead_worker_recovery, seconds)
            fault = next(kills, None)
            if fault is not None:
                fault.recovery = seconds
        elif name.startswith("PostgreSQL"):
            report.postgres_recovery = max(report.postgres_recovery, seconds)
            _set_recovery(report, "SIGKILL PostgreSQL", clock.since(at), seconds)
        else:
            report.kafka_recovery = max(report.kafka_recovery, seconds)
            _set_recovery(report, "SIGKILL Kafka", clock.since(at), seconds)


def _set_recovery(report: Report, name: str, back_at: float, seconds: float) -> None:
    for fault in report.faults:
        if fault.name == name and fault.recovery is None and fault.at <= back_at:
            fault.recovery = seconds
            return
