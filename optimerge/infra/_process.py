"""Pidfiles, detached spawning, stopping and log tails for the local infrastructure."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

Log = Callable[[str], None]
_PF_KTHREAD = 0x00200000  # include/linux/sched.h


def log_to_stderr(message: str) -> None:
    # Progress goes to stderr: stdout is kept for the `export ...` lines that shells eval.
    print(message, file=sys.stderr, flush=True)


class InfraError(RuntimeError):
    """The local infrastructure could not be started, checked or stopped; the text says why."""


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    running: bool
    pid: int | None
    address: str
    log_path: Path

    def __str__(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        return f"{self.name:<10} {state:<22} {self.address:<22} log: {self.log_path}"


def tail(path: Path, lines: int = 20) -> str:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 64 * 1024))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return f"(no log at {path})"
    return "\n".join(text.splitlines()[-lines:]) or f"({path} is empty)"


def cmdline(pid: int) -> str:
    """The process's command line; '' if it is gone (or, briefly, while it execs)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""


def _reap(pid: int) -> None:
    # Our own child stays a zombie (and looks alive) until waited for.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _stat_fields(stat: Path) -> list[str]:
    """/proc/<pid>[/task/<tid>]/stat from its state on: the command name before it may hold
    spaces and parentheses."""
    return stat.read_text().rsplit(")", 1)[1].split()


def _has_live_threads(pid: int) -> bool:
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return False
    for task in tasks:
        try:
            if _stat_fields(task / "stat")[0] != "Z":
                return True
        except (OSError, IndexError):
            continue
    return False


def is_alive(pid: int) -> bool:
    # Not from cmdline: right after posix_spawn it can read empty while the exec completes.
    _reap(pid)
    try:
        os.kill(pid, 0)
        state = _stat_fields(Path(f"/proc/{pid}/stat"))[0]
    except (ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True
    if state == "Z":
        if _has_live_threads(pid):
            return True  # a JVM's main thread is a zombie while its others still close sockets
        _reap(pid)  # it exited since the first wait: collect it now, not at our exit
        return False
    return True


def _pid_in(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def read_pid(pidfile: Path, marker: str) -> int | None:
    """The pid in `pidfile` if that process is alive and its command line contains `marker`."""
    pid = _pid_in(pidfile)
    # A recycled pid belongs to someone else: the marker (our config path) tells them apart.
    return pid if pid is not None and is_alive(pid) and marker in cmdline(pid) else None


def wait_while_exiting(pidfile: Path, timeout: float = 10.0) -> None:
    """Wait for the process in `pidfile` if it is dying: a SIGKILLed process loses its
    command line before its sockets close, so for a moment it looks gone yet holds its ports."""
    pid = _pid_in(pidfile)
    if pid is None or _is_kernel_thread(pid):
        return  # a stale pid the kernel now uses has no command line either: not ours
    deadline = time.monotonic() + timeout
    while is_alive(pid) and not cmdline(pid) and time.monotonic() < deadline:
        time.sleep(0.01)


def _is_kernel_thread(pid: int) -> bool:
    try:
        return bool(int(_stat_fields(Path(f"/proc/{pid}/stat"))[6]) & _PF_KTHREAD)
    except (OSError, ValueError, IndexError):
        return False


def spawn(
    argv: Sequence[str], *, pidfile: Path, output: Path, env: Mapping[str, str] | None = None
) -> int:
    """Start a detached process (own session, so Ctrl-C in this terminal doesn't reach it).

    posix_spawn rather than Popen: a Popen dropped while its process runs warns at exit, and
    this process is meant to outlive us (`optimerge infra up` returns at once). It runs with
    umask 077 (through a shell that execs it: same pid), so its logs and data (Kafka's
    segments, say) are its owner's only; its output file is 0600."""
    output.parent.mkdir(parents=True, exist_ok=True)
    wrapped = ["/bin/sh", "-c", 'umask 077 && exec "$0" "$@"', *argv]
    pid = os.posix_spawn(
        wrapped[0],
        wrapped,
        dict(os.environ if env is None else env),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(output), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
    )
    pidfile.write_text(f"{pid}\n")
    return pid


def terminate(pid: int, *, timeout: float = 30.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL; returns once the process is gone."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not is_alive(pid):
                return
            time.sleep(0.05)
    raise InfraError(f"process {pid} survived SIGKILL")


def wait_until(
    ready: Callable[[], bool], *, timeout: float, alive: Callable[[], bool], interval: float = 0.1
) -> bool:
    """Poll `ready` until it is true (True), the process died or the timeout passed (False)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return True
        if not alive():
            return False
        time.sleep(interval)
    return False
