"""A one-member etcd (Debian's etcd-server) as Patroni's store, on 127.0.0.1 only.

One member is a single point of failure for the store, not for the database: Patroni's
failsafe mode keeps the primary writable while etcd is away (see deploy/SCALING.md)."""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from pathlib import Path

from optimerge.infra import _ports, _process
from optimerge.infra._osuser import RunAs
from optimerge.infra._process import InfraError, Log, ServiceStatus, log_to_stderr

NAME = "optimerge"


def etcd_healthy(client_url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{client_url}/health", timeout=timeout) as response:  # noqa: S310
            return bool(json.loads(response.read()).get("health") == "true")
    except (OSError, ValueError):
        return False


class LocalEtcd:
    def __init__(self, directory: Path, client_port: int, log: Log = log_to_stderr) -> None:
        self.dir = directory.resolve()
        self.data_dir = self.dir / "data"
        self.pidfile = self.dir / "etcd.pid"
        self.log_path = self.dir / "etcd.log"
        self.client_port = client_port
        self.peer_port = client_port + 1
        self.log = log

    @property
    def client_url(self) -> str:
        return f"http://127.0.0.1:{self.client_port}"

    def pid(self) -> int | None:
        return _process.read_pid(self.pidfile, marker=str(self.data_dir))

    def argv(self, etcd: str) -> list[str]:
        peer = f"http://127.0.0.1:{self.peer_port}"
        return [
            etcd, "--name", NAME, "--data-dir", str(self.data_dir),
            "--listen-client-urls", self.client_url, "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
            "--initial-cluster", f"{NAME}={peer}", "--initial-cluster-state", "new",
            "--logger", "zap", "--log-outputs", "stderr",
        ]  # fmt: skip

    def start(self, run_as: RunAs, timeout: float = 30.0) -> str:
        """Start (or reuse) etcd; returns its client URL once it reports healthy."""
        _process.wait_while_exiting(self.pidfile)
        pid = self.pid()
        if pid is not None:
            self.log(f"etcd already running on {self.client_url} (pid {pid})")
            return self.client_url
        etcd = shutil.which("etcd")
        if not etcd:
            raise InfraError("`etcd` not found: run scripts/setup.sh (Debian's etcd-server)")
        for port in (self.client_port, self.peer_port):
            if _ports.port_in_use(port):
                raise _ports.port_conflict("cannot start etcd", port, "OPTIMERGE_INFRA__ETCD_PORT")
        self.dir.mkdir(parents=True, exist_ok=True)
        run_as.own(self.dir)
        started = time.monotonic()
        env = {"PATH": "/usr/bin:/bin", "HOME": str(self.dir), "TZ": "UTC"}
        argv = [*run_as.argv_prefix(), *self.argv(etcd)]
        pid = _process.spawn(argv, pidfile=self.pidfile, output=self.log_path, env=env)
        ready = _process.wait_until(
            lambda: etcd_healthy(self.client_url),
            timeout=timeout,
            alive=lambda: _process.is_alive(pid),
        )
        if not ready:
            _process.terminate(pid, timeout=10)
            raise InfraError(
                f"etcd did not become healthy on {self.client_url} within {timeout:.0f} s; "
                f"last lines of {self.log_path}:\n{_process.tail(self.log_path)}"
            )
        self.log(f"etcd ready on {self.client_url} in {time.monotonic() - started:.1f} s")
        return self.client_url

    def stop(self, timeout: float = 15.0) -> bool:
        pid = self.pid()
        if pid is None:
            return False
        self.log(f"stopping etcd (pid {pid})")
        _process.terminate(pid, timeout=timeout)
        self.pidfile.unlink(missing_ok=True)
        return True

    def status(self) -> ServiceStatus:
        pid = self.pid()
        return ServiceStatus(
            "etcd", pid is not None, pid, f"127.0.0.1:{self.client_port}", self.log_path
        )
