"""Fixture plugin: real `optimerge worker` processes against the test's topics and database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from config import ResolvedSettings, kafka_env, signing_env
from optimerge.infra.secrets import LocalSecrets
from streams.acls import WORKER
from tests.fix_infra import principal_settings


class WorkerProcess:
    def __init__(
        self,
        settings: ResolvedSettings,
        log_path: Path,
        state_dir: Path,
        args: tuple[str, ...] = (),
    ) -> None:
        env = dict(os.environ)
        # A worker runs as the worker principal, whatever the test acts as.
        settings = principal_settings(settings, LocalSecrets(settings.infra.state_dir), WORKER)
        env.update(kafka_env(settings.kafka) | signing_env(settings.signing))
        env.update(
            {
                "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers or "",
                "DATABASE_URL": settings.database_url or "",
                "OPTIMERGE_TOPIC_PREFIX": settings.topic_prefix,
                "OPTIMERGE_PARTITIONS": str(settings.partitions),
                "OPTIMERGE_INFRA__STATE_DIR": str(state_dir),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "optimerge", "worker", "--loglevel", "info", *args],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait: the worker must exit within `timeout` seconds."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        finally:
            self._log.close()

    def kill(self) -> None:
        """SIGKILL: no clean-up at all, as in a crash."""
        self.proc.kill()
        self.proc.wait(10)
        self._log.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()
        self._log.close()


@pytest.fixture
def start_worker(
    settings: ResolvedSettings, tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """start_worker() runs a worker on the test's settings; start_worker(other, *args) on others."""
    started: list[WorkerProcess] = []

    def start(use: ResolvedSettings | None = None, *args: str) -> WorkerProcess:
        log_path = tmp_path / f"worker-{len(started)}.log"
        worker = WorkerProcess(use or settings, log_path, tmp_path, args)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.close()
