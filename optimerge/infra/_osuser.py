"""Running PostgreSQL under its own OS account when we are root (it refuses to run as root)."""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from optimerge.infra._process import InfraError, Log


@dataclass(frozen=True)
class RunAs:
    """The account a service runs as: None fields mean "the current user, no switch"."""

    name: str | None = None
    uid: int | None = None
    gid: int | None = None

    def subprocess_kwargs(self) -> dict[str, Any]:
        if self.uid is None:
            return {}
        # extra_groups=[] drops root's supplementary groups too.
        return {"user": self.uid, "group": self.gid, "extra_groups": []}

    def argv_prefix(self) -> list[str]:
        """What to put before a command so that it execs as this account (same pid: a detached
        spawn keeps its pidfile right); nothing when no switch is needed."""
        if self.uid is None:
            return []
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        return [setpriv, f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups", "--"]

    def own(self, path: Path) -> None:
        if self.uid is None or self.gid is None:
            return
        os.chown(path, self.uid, self.gid, follow_symlinks=False)
        for root, dirs, files in os.walk(path):
            os.chown(root, self.uid, self.gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), self.uid, self.gid, follow_symlinks=False)

    def check_can_reach(self, path: Path, *, purpose: str) -> None:
        """Fail clearly if the account cannot traverse every existing parent of `path`."""
        if self.uid is None or self.name is None or self.gid is None:
            return
        groups = set(os.getgrouplist(self.name, self.gid))
        for parent in reversed(path.resolve().parents):
            try:
                st = parent.stat()
            except FileNotFoundError:
                continue
            if st.st_uid == self.uid:
                allowed = bool(st.st_mode & stat.S_IXUSR)
            elif st.st_gid in groups:
                allowed = bool(st.st_mode & stat.S_IXGRP)
            else:
                allowed = bool(st.st_mode & stat.S_IXOTH)
            if not allowed:
                raise InfraError(
                    f"{purpose} runs as OS user {self.name!r} (we are root), which cannot enter "
                    f"{parent} (mode {stat.S_IMODE(st.st_mode):04o}). Put the state dir somewhere "
                    f"it can reach (OPTIMERGE_INFRA__STATE_DIR=...), or `chmod o+x {parent}`."
                )


def run_as_for(os_user: str, log: Log) -> RunAs:
    """The current user, or (as root) `os_user`, created as a system account if missing."""
    if os.geteuid() != 0:
        return RunAs()
    try:
        entry = pwd.getpwnam(os_user)
    except KeyError:
        useradd = shutil.which("useradd") or "/usr/sbin/useradd"
        log(f"creating OS user {os_user!r} to run PostgreSQL (it refuses to run as root)")
        done = subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", os_user],
            capture_output=True,
            text=True,
            check=False,
        )
        # Another process may have created it in the meantime (exit 9: already exists).
        if done.returncode not in (0, 9):
            raise InfraError(
                f"could not create OS user {os_user!r} (useradd exit {done.returncode}): "
                f"{done.stderr.strip()}; create it, or set OPTIMERGE_INFRA__POSTGRES_OS_USER"
            ) from None
        entry = pwd.getpwnam(os_user)
    if entry.pw_uid == 0:
        raise InfraError(
            f"OPTIMERGE_INFRA__POSTGRES_OS_USER={os_user!r} is root; PostgreSQL refuses"
        )
    return RunAs(os_user, entry.pw_uid, entry.pw_gid)


def secure_state_dir(state_dir: Path, run_as: RunAs) -> None:
    """The state dir holds secrets, data and logs: its owner only (0700). When PostgreSQL runs
    as another account (we are root), that account's group may traverse it (0710), to reach its
    own subdirectory, and read nothing else."""
    state_dir.mkdir(parents=True, exist_ok=True)
    if run_as.uid is None or run_as.gid is None:
        state_dir.chmod(0o700)
        return
    os.chown(state_dir, -1, run_as.gid)
    state_dir.chmod(0o710)
