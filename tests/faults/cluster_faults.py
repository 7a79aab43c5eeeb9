"""The faults of the cluster plan (tests/faults/cluster_driver.py), one function each, on a run
of it: a burst of worker SIGKILLs, the leading broker SIGKILLed, the primary SIGKILLed with
COMMITs in doubt, a worker paused inside a transaction (a zombie), a worker's network cut. Each
adds its row and ends with a checkpoint; slow returns to health run in the background."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from confluent_kafka.admin import AdminClient
from psycopg.conninfo import conninfo_to_dict

from streams.app import group_id
from streams.security import client_options
from tests.faults.cluster_report import Row
from tests.faults.in_doubt import CommitInDoubt
from tests.faults.sessions import how_it_ended, strike_inside_transaction
from tests.faults.workers import WorkerPool

if TYPE_CHECKING:
    from tests.faults.cluster_driver import Run


def worker_kills(run: Run) -> None:
    plan, pool = run.plan, run.pool
    due: list[tuple[float, int]] = []
    rows = []
    for n in range(plan.worker_kills):
        pause_until = time.monotonic() + run.rng.uniform(*plan.kill_every)
        while time.monotonic() < pause_until:
            due = _replace_due(pool, due)
            time.sleep(0.05)
        down = {i for _, i in due}
        candidates = [i for i in pool.alive() if i not in down]
        if not candidates:
            continue
        victim = run.rng.choice(candidates)
        owned = run.owned_by(victim)
        at = time.time()
        if rows:
            rows[-1].until = at
        pool.kill(victim)
        back = run.rng.uniform(*plan.replace_after)
        due.append((time.monotonic() + back, victim))
        instance = pool.slots[victim].instance_id
        rows.append(
            Row(
                "SIGKILL worker",
                run.since(at),
                f"{instance} (#{n + 1}, partitions {owned}), replaced after {back:.1f} s",
                since=at,
                partitions=owned,
            )
        )
    while due:
        due = _replace_due(pool, due)
        time.sleep(0.05)
    run.report.rows += rows
    if rows:
        run.checkpoint(rows[-1])


def broker_loss(run: Run) -> None:
    run.join_background()  # the previous broker back in sync first
    coordinator = _coordinator(run)
    at = time.time()
    kill = run.infra.kill_leading_broker(run.prefix, coordinator)
    row = Row(
        "SIGKILL leading broker",
        run.since(at),
        f"broker {kill.node_id} led {kill.led} of {kill.of} partitions"
        + (", group coordinator" if kill.coordinator else ""),
        since=at,
    )
    run.report.rows.append(row)
    run.log(f"broker {kill.node_id} SIGKILLed ({row.detail})")
    # After KRaft's broker session (9 s): the broker is fenced, its leaders moved.
    probe = run.status.later(row, "during", delay=10)
    run.checkpoint(row)
    probe.join(60)  # seen down, before it is restarted

    def restart() -> None:
        row.back = run.infra.restart_broker()
        row.detail += f"; restarted, in every ISR again {row.back:.1f} s after its start"

    run.background(restart)


def _coordinator(run: Run) -> int | None:
    admin = AdminClient({**client_options(run.infra.admin), "log_level": 0})
    try:
        group = group_id(run.settings)
        description = admin.describe_consumer_groups([group])[group].result(10)
        return int(description.coordinator.id)
    except Exception:
        return None


def primary_loss(run: Run) -> None:
    """SIGKILL the primary while COMMITs wait for the standby (tests/faults/in_doubt.py):
    in doubt for the workers, and either on the standby (`replicated`) or gone with the
    primary (`lost`), by turns."""
    run.join_background()  # a pair again first
    fate = ("replicated", "lost")[run.primary_kills % 2]
    run.primary_kills += 1
    before = run.infra.writable()
    database = str(conninfo_to_dict(run.settings.database_url)["dbname"])
    doubt = CommitInDoubt(run.infra, database)
    doubt.hold_replication()
    frozen = doubt.freeze_waiting_commits(timeout=30)
    if fate == "replicated":
        doubt.release_replication()
    at = time.time()
    doubt.kill_primary()
    row = Row(
        "SIGKILL PostgreSQL primary",
        run.since(at),
        f"primary was {before}; {len(frozen)} COMMIT(s) in doubt, "
        + ("on the standby" if fate == "replicated" else "never on the standby"),
        since=at,
    )
    run.report.rows.append(row)
    run.log(f"primary {before} SIGKILLed with {len(frozen)} COMMIT(s) in doubt ({fate})")
    writable = run.infra.wait_writable()
    row.detail += f"; writable again after {writable:.1f} s on {run.infra.writable()}"
    run.status.later(row, "during")
    run.checkpoint(row)

    def rejoin() -> None:
        run.infra.wait_pair()
        row.back = time.time() - at
        row.detail += f"; old primary a sync standby again {row.back:.1f} s after the kill"

    run.background(rejoin)


def _strike(
    run: Run, index: int, strike: Callable[[], None], undo: Callable[[], None], row: Row
) -> None:
    """Strike worker `index` inside a transaction (its patients' rows locked), and watch
    PostgreSQL end that transaction by itself (idle_in_transaction_session_timeout)."""
    instance = run.pool.slots[index].instance_id
    held = strike_inside_transaction(run.settings.database_url, instance, strike, undo)
    row.since = time.time()
    row.at = run.since(row.since)
    if held is None:
        row.detail += "; not caught inside a transaction"
        return
    waiting = f", waiting for {held.wait_event}" if held.wait_event else ""
    row.detail += f"; struck inside a transaction (backend {held.state}{waiting})"

    def watch() -> None:
        row.detail += "; " + how_it_ended(run.settings.database_url, held, timeout=60)

    run.background(watch)


def zombie(run: Run) -> None:
    host_slots = [i for i in run.pool.alive() if i != run.plan.isolated_slot]
    victim = run.rng.choice(host_slots)
    instance = run.pool.slots[victim].instance_id
    owned = run.owned_by(victim)
    seconds = run.session + run.plan.pause_beyond_session
    row = Row(
        "SIGSTOP worker (zombie)",
        0.0,
        f"{instance} (partitions {owned}) paused {seconds:.0f} s, session {run.session:.0f} s",
        partitions=owned,
    )
    run.report.rows.append(row)
    _strike(run, victim, lambda: run.pool.pause(victim), lambda: run.pool.resume(victim), row)
    run.log(f"{instance} SIGSTOPped for {seconds:.0f} s")
    time.sleep(seconds - 3)
    run.status.later(row, "during")
    time.sleep(max(0.0, row.since + seconds - time.time()))
    run.pool.resume(victim)
    row.back = run.wait_owning(victim, timeout=60)
    run.checkpoint(row)
    row.detail += f"; SIGCONT, owns partitions again after {row.back:.1f} s"
    row.detail += f"; its log: {_fencing_lines(run.pool.log_text(victim))}"


def isolation(run: Run) -> None:
    index = run.plan.isolated_slot
    instance = run.pool.slots[index].instance_id
    owned = run.owned_by(index)
    netns = run.infra.netns
    row = Row(
        "network cut (netns)",
        0.0,
        f"{instance} (partitions {owned}) cut off for {run.plan.isolate_for:.0f} s",
        partitions=owned,
    )
    run.report.rows.append(row)
    _strike(run, index, netns.cut, netns.restore, row)
    run.log(f"{instance}'s link cut for {run.plan.isolate_for:.0f} s")
    time.sleep(run.plan.isolate_for - 4)
    run.status.later(row, "during")
    time.sleep(max(0.0, row.since + run.plan.isolate_for - time.time()))
    netns.restore()
    row.back = run.wait_owning(index, timeout=90)
    run.checkpoint(row)
    row.detail += f"; link up, owns partitions again after {row.back:.1f} s"
    row.detail += f"; its log: {_fencing_lines(run.pool.log_text(index))}"


def _replace_due(pool: WorkerPool, due: list[tuple[float, int]]) -> list[tuple[float, int]]:
    now = time.monotonic()
    for at, index in due:
        if at <= now:
            pool.start(index)
    return [(at, index) for at, index in due if at > now]


_FENCING = ("CommitFailedError", "IllegalGeneration", "UnknownMemberId", "FencedInstanceId",
            "REBALANCE_IN_PROGRESS", "RebalanceInProgress")  # fmt: skip


def _fencing_lines(log: str) -> str:
    found = {marker: log.count(marker) for marker in _FENCING if marker in log}
    return ", ".join(f"{k} x{v}" for k, v in found.items()) or "no fencing message"
