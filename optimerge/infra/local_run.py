"""Background worker processes for the local run (`optimerge run`), stopped by `infra down`."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import BinaryIO

from config import Settings
from optimerge.infra._process import Log, is_alive, log_to_stderr, read_pid

# deploy/prometheus/prometheus.yml scrapes these.
FIRST_METRICS_PORT = 9101


def _dir(settings: Settings) -> Path:
    return settings.infra.state_dir / "workers"


def _private_log(path: Path) -> BinaryIO:
    """A log file its owner only reads (0600, also when it existed with another mode)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


def running_workers(settings: Settings) -> list[tuple[int, Path]]:
    found = []
    for pidfile in sorted(_dir(settings).glob("*.pid")):
        pid = read_pid(pidfile, "optimerge")
        if pid is not None:
            found.append((pid, pidfile))
        else:
            pidfile.unlink(missing_ok=True)
    return found


def start_workers(
    settings: Settings, count: int, env: dict[str, str], log: Log = log_to_stderr
) -> list[Path]:
    """Start `count` detached `optimerge worker` processes (one consumer group); returns logs."""
    directory = _dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    have = len([p for _, p in running_workers(settings) if p.name.startswith("worker-")])
    logs = []
    for index in range(have, count):
        log_path = directory / f"worker-{index}.log"
        with _private_log(log_path) as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "optimerge",
                    "worker",
                    "--metrics-port",
                    str(FIRST_METRICS_PORT + index),
                ],
                env={**os.environ, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        (directory / f"worker-{index}.pid").write_text(str(proc.pid))
        log(f"worker {index} started (pid {proc.pid}, log: {log_path})")
        logs.append(log_path)
    if have:
        log(f"{have} worker(s) already running")
    return logs


def stop_workers(settings: Settings, log: Log = log_to_stderr, timeout: float = 15.0) -> int:
    """SIGTERM every worker we started, wait, SIGKILL what is left; returns how many ran."""
    workers = running_workers(settings)
    for pid, _ in workers:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for pid, pidfile in workers:
        while is_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if is_alive(pid):
            log(f"worker pid {pid} did not stop within {timeout:.0f} s: killing it")
            os.kill(pid, signal.SIGKILL)
        pidfile.unlink(missing_ok=True)
    if workers:
        log(f"stopped {len(workers)} worker(s)")
    return len(workers)


def start_app(settings: Settings, port: int, env: dict[str, str], log: Log = log_to_stderr) -> Path:
    """Start `optimerge app` detached (stopped with the workers); returns its log file."""
    # Plain HTTP on loopback only: `optimerge app` refuses --insecure-http elsewhere.
    return _start_one(
        settings, "app", ["app", "--port", str(port), "--insecure-http"], env, log,
        f"reviewer app started on http://127.0.0.1:{port}/",
    )  # fmt: skip


def start_checkpointer(settings: Settings, env: dict[str, str], log: Log = log_to_stderr) -> Path:
    """Start `optimerge audit checkpoint` detached (stopped with the workers): it verifies the
    audit trail and signs checkpoints every minute (docs/contract.md#audit-checkpoints)."""
    return _start_one(
        settings, "checkpointer", ["audit", "checkpoint"], env, log,
        "audit checkpointer started",
    )  # fmt: skip


def _start_one(
    settings: Settings, name: str, args: list[str], env: dict[str, str], log: Log, said: str
) -> Path:
    directory = _dir(settings)
    directory.mkdir(parents=True, exist_ok=True)
    log_path = directory / f"{name}.log"
    pidfile = directory / f"{name}.pid"
    if read_pid(pidfile, "optimerge") is not None:
        log(f"{name} already running (log: {log_path})")
        return log_path
    with _private_log(log_path) as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "optimerge", *args],
            env={**os.environ, **env},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    pidfile.write_text(str(proc.pid))
    log(f"{said} (pid {proc.pid}, log: {log_path})")
    return log_path
