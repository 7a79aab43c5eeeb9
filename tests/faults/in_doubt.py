"""A commit in doubt, made on purpose: the worker has sent COMMIT, the primary dies before it
answers, and the worker cannot know whether its batch is in the database.

With synchronous replication a COMMIT waits (wait event `SyncRep`) until the standby has the
commit's WAL. So: SIGSTOP the primary's walsender (the WAL stops at the primary; every COMMIT
waits), wait until the worker's backend waits in SyncRep, SIGSTOP that backend (it can no longer
answer, whatever happens next), then either

- `lost`: kill the primary as it is: the standby never saw the commit; Patroni promotes it, and
  the commit is gone (the old primary's copy is rewound when it rejoins), or
- `replicated`: SIGCONT the walsender first and wait until the standby has replayed the commit
  (the rows are read on the standby itself), then kill the primary: the promoted standby has the
  commit that the worker was never told about.

"Kill the primary" is SIGKILL of the postmaster and of every process it started, as if the
machine died. Either way the worker sees its connection drop during COMMIT."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import psycopg

from tests.faults.cluster import ClusterFaultInfra
from tests.faults.processes import children


class CommitInDoubt:
    def __init__(self, infra: ClusterFaultInfra, database: str) -> None:
        self.infra = infra
        self.database = database
        self.primary = infra.member("leader")
        self.standby = infra.member("sync_standby")
        self.walsenders: list[int] = []
        self.backends: list[int] = []

    def hold_replication(self) -> None:
        with self.infra.superuser(self.primary) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_replication").fetchall()
        assert rows, "the primary streams to no standby"
        self.walsenders = [pid for (pid,) in rows]
        for pid in self.walsenders:
            os.kill(pid, signal.SIGSTOP)

    def freeze_waiting_commits(self, timeout: float = 60.0) -> list[int]:
        """SIGSTOP every backend of the database whose COMMIT waits for the standby."""
        deadline = time.monotonic() + timeout
        with self.infra.superuser(self.primary) as conn:
            while time.monotonic() < deadline:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE wait_event = 'SyncRep' "
                    "AND datname = %s",
                    (self.database,),
                ).fetchall()
                if rows:
                    self.backends = [pid for (pid,) in rows]
                    for pid in self.backends:
                        os.kill(pid, signal.SIGSTOP)
                    return self.backends
                time.sleep(0.05)
        raise AssertionError(f"no COMMIT waited for the standby within {timeout:.0f} s")

    def release_replication(self, timeout: float = 30.0) -> None:
        """Let the WAL go to the standby; return once the standby has replayed all of it."""
        with self.infra.superuser(self.primary) as conn:
            row = conn.execute("SELECT pg_current_wal_flush_lsn()::text").fetchone()
        assert row is not None
        for pid in self.walsenders:
            os.kill(pid, signal.SIGCONT)
        deadline = time.monotonic() + timeout
        with self.infra.superuser(self.standby) as conn:
            while time.monotonic() < deadline:
                done = conn.execute(
                    "SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (row[0],)
                ).fetchone()
                if done and done[0]:
                    return
                time.sleep(0.05)
        raise AssertionError(f"the standby did not replay up to {row[0]} within {timeout:.0f} s")

    def on_standby(self, query: str, *params: object) -> object:
        """A read on the standby itself (a hot standby answers reads)."""
        params_ = self.infra.patroni().superuser_params()
        params_.update(
            host=self.standby.paths.host,
            port=self.standby.paths.postgres_port,
            dbname=self.database,
            target_session_attrs="any",
        )
        with psycopg.connect(**params_) as conn:
            row = conn.execute(query, params).fetchone()
        return row[0] if row else None

    def kill_primary(self) -> None:
        postmaster = self.primary.postmaster_pid()
        assert postmaster is not None
        victims = [postmaster, *children(postmaster)]
        for pid in victims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
