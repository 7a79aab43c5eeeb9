"""A local PostgreSQL cluster (Debian's binaries) on 127.0.0.1 only, with scram-sha-256 auth."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

from config import InfraSettings
from optimerge.infra import _ports, _process
from optimerge.infra._osuser import RunAs, run_as_for, secure_state_dir
from optimerge.infra._patroni_config import SERVER_TCP
from optimerge.infra._process import InfraError, Log, ServiceStatus, log_to_stderr
from optimerge.infra._roles import DatabaseUrls, RoleSecrets, ensure_roles_and_database

SUPERUSER = "postgres"
_INCLUDE = "include_if_exists = 'optimerge.conf'"


def find_bindir() -> Path:
    """Newest `/usr/lib/postgresql/<major>/bin`, else what `pg_config --bindir` says."""
    candidates = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "pg_ctl").exists()),
        key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0],
    )
    if candidates:
        return candidates[-1]
    if pg_config := shutil.which("pg_config"):
        out = subprocess.run([pg_config, "--bindir"], capture_output=True, text=True, check=False)
        bindir = Path(out.stdout.strip())
        if (bindir / "pg_ctl").exists() and (bindir / "initdb").exists():
            return bindir
    raise InfraError("PostgreSQL server binaries (initdb, pg_ctl) not found: run scripts/setup.sh")


def render_conf(infra: InfraSettings) -> str:
    return (
        "# Written by optimerge.infra.postgres on every start; edit InfraSettings instead.\n"
        "listen_addresses = '127.0.0.1'\n"
        f"port = {infra.postgres_port}\n"
        # TCP only: no socket file in /var/run/postgresql (which may not exist or be ours).
        "unix_socket_directories = ''\n"
        "password_encryption = 'scram-sha-256'\n"
        "max_connections = 200\n"
        # No data in the server log: an ERROR's text can quote values ("Failing row contains
        # (...)"), so errors are left to the clients, which log only codes and constraint names.
        "log_min_messages = log\n"
        "log_min_error_statement = panic\n"
        "log_error_verbosity = terse\n"
        # A client gone silent is dropped within seconds (see _patroni_config.SERVER_TCP).
        + "".join(f"{key} = {value}\n" for key, value in SERVER_TCP.items())
    )


def postmaster_pid(data_dir: Path) -> int | None:
    """The postmaster running on `data_dir`, if any."""
    try:
        pid = int(((data_dir / "postmaster.pid").read_text().split() or ["0"])[0])
    except (OSError, ValueError):
        return None
    # A postmaster.pid left by a crash names a pid that may now be someone else's.
    return pid if pid and str(data_dir) in _process.cmdline(pid) else None


def write_secret_once(path: Path) -> str:
    """A random password kept in `path` (0600), made on the first call."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


class LocalPostgres:
    def __init__(self, infra: InfraSettings, log: Log = log_to_stderr) -> None:
        self.infra = infra
        self.log = log
        self.dir = (infra.state_dir / "postgres").resolve()
        self.data_dir = self.dir / "data"
        self.roles = RoleSecrets(self.dir, infra.postgres_user)
        self.password_file = self.roles.path(infra.postgres_user)
        self.superuser_password_file = self.dir / "superuser-password"
        self.log_path = self.dir / "postgres.log"

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.infra.postgres_port}"

    def url(self) -> str:
        """URL of the schema owner (rebuilt from the password in the state dir)."""
        return self.urls().migration

    def urls(self) -> DatabaseUrls:
        """The worker's (DATABASE_URL), the app's and the owner's URLs."""
        return self.roles.urls(self.address, self.infra.postgres_database)

    def _run(self, run_as: RunAs, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
        argv = [str(find_bindir() / tool), *args]
        return subprocess.run(
            argv,
            capture_output=True,
            text=True,
            check=False,
            cwd=self.dir,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "TZ": "UTC"},
            # The postmaster that pg_ctl forks must not get this terminal's Ctrl-C.
            start_new_session=True,
            **run_as.subprocess_kwargs(),
        )

    def pid(self) -> int | None:
        return postmaster_pid(self.data_dir)

    def running(self) -> bool:
        return self.pid() is not None

    def initialised(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def start(self, timeout: float = 60.0) -> DatabaseUrls:
        """Start (or reuse) the cluster; returns the URLs of its three roles."""
        if self.pid() is None:
            # A postmaster killed a moment ago still holds its port while the kernel tears it
            # down (its cmdline is already gone): wait for it before calling the port taken.
            self._clear_stale_lock()
        if self.pid() is None and _ports.port_in_use(self.infra.postgres_port):
            raise _ports.port_conflict(
                "cannot start PostgreSQL",
                self.infra.postgres_port,
                "OPTIMERGE_INFRA__POSTGRES_PORT",
            )
        run_as = run_as_for(self.infra.postgres_os_user, self.log)
        secure_state_dir(self.infra.state_dir, run_as)
        run_as.check_can_reach(self.dir, purpose="PostgreSQL")
        self._init_once(run_as)
        conf = self.data_dir / "optimerge.conf"
        conf.write_text(render_conf(self.infra))
        run_as.own(conf)
        pid = self.pid()
        if pid is not None:
            self.log(f"PostgreSQL already running on {self.address} (pid {pid})")
        else:
            version = (self.data_dir / "PG_VERSION").read_text().strip()
            self.log(f"starting PostgreSQL {version} on {self.address} (log: {self.log_path})")
            started = time.monotonic()
            done = self._run(
                run_as, "pg_ctl", "start", "-w", "-t", str(int(timeout)), "-D", str(self.data_dir),
                "-l", str(self.log_path),
            )  # fmt: skip
            if done.returncode != 0:
                raise InfraError(
                    f"PostgreSQL did not start on {self.address} (pg_ctl exit {done.returncode}: "
                    f"{done.stdout.strip()} {done.stderr.strip()}); last lines of "
                    f"{self.log_path}:\n{_process.tail(self.log_path)}"
                )
            self.log(f"PostgreSQL ready in {time.monotonic() - started:.1f} s")
        self._ensure_roles_and_database()
        return self.urls()

    def _leftovers(self) -> list[int]:
        """Processes still working in the data dir: the backends of a postmaster that was
        killed (they notice its death and exit within moments, holding its shared memory)."""
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if Path(os.readlink(entry / "cwd")) == self.data_dir:
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    def _clear_stale_lock(self, timeout: float = 15.0) -> None:
        """After a SIGKILL of the postmaster, its postmaster.pid stays behind naming a process
        that is gone (or is a zombie, or someone else now): pg_ctl then refuses ("another
        server might be running"). Wait for its orphaned backends, then remove the file."""
        lock = self.data_dir / "postmaster.pid"
        if not lock.exists():
            return
        deadline = time.monotonic() + timeout
        while (left := self._leftovers()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in left:  # orphans of a dead postmaster that would not go: nothing to save
            _process.terminate(pid, timeout=2.0)
        self.log(f"removing the stale {lock.name} of a PostgreSQL that is no longer running")
        lock.unlink(missing_ok=True)

    def _init_once(self, run_as: RunAs) -> None:
        # The include line is written last: without it, initdb was interrupted; start over.
        conf = self.data_dir / "postgresql.conf"
        if conf.exists() and _INCLUDE in conf.read_text():
            return
        shutil.rmtree(self.data_dir, ignore_errors=True)
        self.dir.mkdir(parents=True, exist_ok=True)
        for path in (self.superuser_password_file, *map(self.roles.path, self.roles.roles())):
            write_secret_once(path)
        run_as.own(self.dir)
        self.log(f"initialising PostgreSQL data dir {self.data_dir} (first run only)")
        done = self._run(
            run_as, "initdb", "-D", str(self.data_dir), "-U", SUPERUSER, "--encoding=UTF8",
            "--no-locale", "--auth=scram-sha-256", f"--pwfile={self.superuser_password_file}",
            # No fsync of a fresh, empty cluster: faster, and nothing in it to lose yet.
            "--no-sync",
        )  # fmt: skip
        if done.returncode != 0:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            raise InfraError(f"initdb failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
        with conf.open("a") as f:
            f.write(f"\n{_INCLUDE}\n")
        run_as.own(self.dir)

    def _ensure_roles_and_database(self) -> None:
        # A state dir from before the worker and app roles: their passwords are made now.
        for role in self.roles.roles():
            write_secret_once(self.roles.path(role))
        params: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": self.infra.postgres_port,
            "user": SUPERUSER,
            "password": self.superuser_password_file.read_text().strip(),
            "dbname": "postgres",
            "connect_timeout": 10,
        }
        ensure_roles_and_database(
            params, self.infra.postgres_user, self.roles.passwords(), self.infra.postgres_database
        )

    def stop(self, timeout: float = 60.0) -> bool:
        """`pg_ctl stop -m fast` if our cluster runs; True if there was one to stop."""
        pid = self.pid()
        if pid is None:
            return False
        self.log(f"stopping PostgreSQL (pid {pid})")
        run_as = run_as_for(self.infra.postgres_os_user, self.log)
        done = self._run(
            run_as, "pg_ctl", "stop", "-m", "fast", "-w", "-t", str(int(timeout)),
            "-D", str(self.data_dir),
        )  # fmt: skip
        if done.returncode != 0 and self.pid() is not None:
            self.log(f"fast shutdown failed ({done.stderr.strip()}); stopping immediately")
            self._run(run_as, "pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(self.data_dir))
        return True

    def status(self) -> ServiceStatus:
        pid = self.pid()
        return ServiceStatus("postgres", pid is not None, pid, self.address, self.log_path)
