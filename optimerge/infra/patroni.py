"""PostgreSQL primary + synchronous standby run by Patroni (Debian's package) with etcd as its
store (`infra up --postgres-standby`). Patroni does initdb, replication and failover; we only
start, watch and stop its processes, as the non-root OS user, all under `<state_dir>/patroni`."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from typing import Any

import psycopg

from config import InfraSettings
from optimerge.infra import _ports, _process
from optimerge.infra._osuser import RunAs, run_as_for, secure_state_dir
from optimerge.infra._patroni_config import MemberPaths, Passwords, render_member_config
from optimerge.infra._patroni_member import PatroniMember, stop_orphan_postmaster
from optimerge.infra._process import InfraError, Log, ServiceStatus, log_to_stderr
from optimerge.infra._roles import DatabaseUrls, RoleSecrets, ensure_roles_and_database
from optimerge.infra.etcd import LocalEtcd
from optimerge.infra.postgres import SUPERUSER, find_bindir, write_secret_once

MEMBERS = 2
LAYOUT_FILE = "layout.json"


def _plan_layout(infra: InfraSettings) -> dict[str, Any]:
    return {
        "postgres_ports": [infra.postgres_port + i for i in range(MEMBERS)],
        "rest_ports": [infra.patroni_port + i for i in range(MEMBERS)],
        "etcd_port": infra.etcd_port,
    }


class PatroniPostgres:
    def __init__(self, infra: InfraSettings, log: Log = log_to_stderr) -> None:
        self.infra = infra
        self.log = log
        self.dir = (infra.state_dir / "patroni").resolve()
        self.recorded = (self.dir / LAYOUT_FILE).exists()
        layout = json.loads((self.dir / LAYOUT_FILE).read_text()) if self.recorded else None
        self.layout: dict[str, Any] = layout or _plan_layout(infra)
        self.host = str(infra.listen_host)
        self.members = [
            PatroniMember(MemberPaths(f"pg-{i + 1}", self.dir / f"pg-{i + 1}", pg, rest, self.host))
            for i, (pg, rest) in enumerate(
                zip(self.layout["postgres_ports"], self.layout["rest_ports"], strict=True)
            )
        ]
        self.etcd = LocalEtcd(self.dir / "etcd", int(self.layout["etcd_port"]), log)
        self.roles = RoleSecrets(self.dir, infra.postgres_user)
        self.password_file = self.roles.path(infra.postgres_user)

    @property
    def hosts(self) -> str:
        return ",".join(f"{self.host}:{m.paths.postgres_port}" for m in self.members)

    def url(self) -> str:
        """URL of the schema owner: every member, and only the primary will do."""
        return self.urls().migration

    def urls(self) -> DatabaseUrls:
        """The worker's (DATABASE_URL), the app's and the owner's URLs."""
        query = "?target_session_attrs=read-write"
        return self.roles.urls(self.hosts, self.infra.postgres_database, query)

    def _passwords(self) -> Passwords:
        return Passwords(
            write_secret_once(self.dir / "superuser-password"),
            write_secret_once(self.dir / "replication-password"),
        )

    def running(self) -> bool:
        return any(m.pid() is not None for m in self.members) or self.etcd.pid() is not None

    def start(self, timeout: float = 90.0) -> DatabaseUrls:
        """Start (or reuse) etcd and both members; returns the roles' URLs once a leader and a
        streaming synchronous standby exist."""
        run_as = run_as_for(self.infra.postgres_os_user, self.log)
        secure_state_dir(self.infra.state_dir, run_as)
        run_as.check_can_reach(self.dir, purpose="PostgreSQL (Patroni)")
        patroni = shutil.which("patroni")
        if not patroni:
            raise InfraError("`patroni` not found: run scripts/setup.sh (Debian's patroni)")
        self._check_ports()
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / LAYOUT_FILE).write_text(json.dumps(self.layout) + "\n")
        for role in self.roles.roles():
            write_secret_once(self.roles.path(role))
        passwords, bindir = self._passwords(), find_bindir()
        for member in self.members:
            (member.paths.dir / "log").mkdir(parents=True, exist_ok=True)
            config = render_member_config(
                self.infra, member.paths, self.etcd.client_port, bindir, passwords
            )
            member.config.touch(mode=0o600)
            member.config.write_text(json.dumps(config, indent=2) + "\n")
        run_as.own(self.dir)
        self.etcd.start(run_as)
        started = time.monotonic()
        spawned = {m.paths.name: self._start_member(m, patroni, run_as) for m in self.members}
        self._wait_for_sync_pair(timeout, spawned)
        self.log(f"PostgreSQL primary + sync standby ready in {time.monotonic() - started:.1f} s")
        ensure_roles_and_database(
            self.superuser_params(),
            self.infra.postgres_user,
            self.roles.passwords(),
            self.infra.postgres_database,
        )
        return self.urls()

    def _check_ports(self) -> None:
        for member in self.members:
            _process.wait_while_exiting(member.pidfile)
            if member.pid() is not None:
                continue
            for port, host, setting in (
                (member.paths.postgres_port, self.host, "OPTIMERGE_INFRA__POSTGRES_PORT"),
                (member.paths.rest_port, "127.0.0.1", "OPTIMERGE_INFRA__PATRONI_PORT"),
            ):
                # A PostgreSQL whose Patroni was killed is ours: the new Patroni takes it over.
                ours = port == member.paths.postgres_port and member.postmaster_pid() is not None
                if not ours and _ports.port_in_use(port, host):
                    raise _ports.port_conflict(
                        f"cannot start {member.paths.name}", port, setting, host
                    )

    def _start_member(self, member: PatroniMember, patroni: str, run_as: RunAs) -> int:
        pid = member.pid()
        if pid is not None:
            self.log(f"Patroni {member.paths.name} already running (pid {pid})")
            return pid
        self.log(f"starting Patroni {member.paths.name} (log: {member.log_path})")
        env = {"PATH": "/usr/bin:/bin", "HOME": str(member.paths.dir), "LC_ALL": "C", "TZ": "UTC"}
        argv = [*run_as.argv_prefix(), patroni, str(member.config)]
        return _process.spawn(argv, pidfile=member.pidfile, output=member.log_path, env=env)

    def superuser_params(self) -> dict[str, Any]:
        return {
            "host": ",".join(self.host for _ in self.members),
            "port": ",".join(str(m.paths.postgres_port) for m in self.members),
            "user": SUPERUSER,
            "password": (self.dir / "superuser-password").read_text().strip(),
            "dbname": "postgres",
            "target_session_attrs": "read-write",
            "connect_timeout": 10,
        }

    def cluster_members(self) -> list[dict[str, Any]]:
        """Patroni's view (`GET /cluster` of the first member that answers): name, role
        (leader, sync_standby, replica), state, lag; [] if none answers."""
        for member in self.members:
            try:
                with urllib.request.urlopen(f"{member.rest_url}/cluster", timeout=2) as resp:  # noqa: S310
                    members: list[dict[str, Any]] = json.loads(resp.read()).get("members", [])
                    return members
            except (OSError, ValueError):
                continue
        return []

    def _sync_pair_ready(self) -> bool:
        roles = {m.get("role"): m.get("state") for m in self.cluster_members()}
        if roles.get("leader") != "running" or "sync_standby" not in roles:
            return False
        # Patroni's word, checked where it counts: the primary streams to a synchronous standby.
        try:
            with psycopg.connect(**self.superuser_params()) as conn:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_replication"
                    " WHERE state = 'streaming' AND sync_state = 'sync'"
                ).fetchone()
        except psycopg.Error:
            return False
        return bool(row and row[0] >= 1)

    def _wait_for_sync_pair(self, timeout: float, pids: dict[str, int]) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._sync_pair_ready():
                return
            dead = [m for m in self.members if not _process.is_alive(pids[m.paths.name])]
            if dead:
                raise InfraError(
                    f"Patroni {dead[0].paths.name} exited; last lines of {dead[0].log_path}:\n"
                    f"{_process.tail(dead[0].log_path)}"
                )
            time.sleep(0.5)
        raise InfraError(
            f"no PostgreSQL leader with a streaming sync standby within {timeout:.0f} s "
            f"(Patroni says: {self.cluster_members() or 'nothing'}); see "
            + ", ".join(str(m.log_path) for m in self.members)
        )

    def stop(self, timeout: float = 30.0) -> bool:
        """Standby first, then the primary (stopping the primary first would fail over to the
        standby), then etcd; True if anything was running."""
        alive = any(m.pid() is not None for m in self.members)
        members = self.cluster_members() if alive else []
        leaders = {m.get("name") for m in members if m.get("role") == "leader"}
        stopped = False
        for member in sorted(self.members, key=lambda m: m.paths.name in leaders):
            pid = member.pid()
            if pid is not None:
                self.log(f"stopping Patroni {member.paths.name} (pid {pid})")
                _process.terminate(pid, timeout=timeout)
                member.pidfile.unlink(missing_ok=True)
                stopped = True
            stopped = stop_orphan_postmaster(member, self.log) or stopped
        return self.etcd.stop() or stopped

    def status(self) -> list[ServiceStatus]:
        return [*(m.status() for m in self.members), self.etcd.status()]

    def report(self) -> list[str]:
        """Patroni's view for `infra status`: each member's role, state and lag."""
        members = self.cluster_members()
        if not members:
            return [f"{'patroni':<10} no member answers on its REST API"]
        return [
            f"{'patroni':<10} {m.get('name')}: {m.get('role')}, {m.get('state')}"
            + (f", lag {m['lag']}" if "lag" in m else "")
            + (f", timeline {m['timeline']}" if "timeline" in m else "")
            for m in members
        ]
