"""One Patroni member: its files, its Patroni process and the PostgreSQL that Patroni runs."""

from __future__ import annotations

import os
import signal

from optimerge.infra import _process
from optimerge.infra._patroni_config import MemberPaths
from optimerge.infra._process import Log, ServiceStatus
from optimerge.infra.postgres import postmaster_pid


class PatroniMember:
    def __init__(self, paths: MemberPaths) -> None:
        self.paths = paths
        self.config = paths.dir / "patroni.yml"
        self.pidfile = paths.dir / "patroni.pid"
        self.log_path = paths.dir / "patroni.log"

    @property
    def rest_url(self) -> str:
        return f"http://127.0.0.1:{self.paths.rest_port}"

    def pid(self) -> int | None:
        return _process.read_pid(self.pidfile, marker=str(self.config))

    def postmaster_pid(self) -> int | None:
        return postmaster_pid(self.paths.data_dir)

    def status(self) -> ServiceStatus:
        pid = self.pid()
        name = f"postgres-{self.paths.name.removeprefix('pg-')}"
        address = f"{self.paths.host}:{self.paths.postgres_port}"
        return ServiceStatus(name, pid is not None, pid, address, self.log_path)


def stop_orphan_postmaster(member: PatroniMember, log: Log, timeout: float = 30.0) -> bool:
    # A Patroni that was killed leaves its PostgreSQL running: stop it too (SIGINT = fast).
    pid = member.postmaster_pid()
    if pid is None:
        return False
    log(f"stopping PostgreSQL of {member.paths.name} left without its Patroni (pid {pid})")
    try:
        os.kill(pid, signal.SIGINT)
    except ProcessLookupError:
        return True
    if not _process.wait_until(
        lambda: not _process.is_alive(pid), timeout=timeout, alive=lambda: True
    ):
        _process.terminate(pid, timeout=5)
    return True
