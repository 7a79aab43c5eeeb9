"""The reviewer app as its own process (`optimerge app`), on a free port, against given
settings: to see what a failover does to its pooled database connections."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx2 as httpx

from config import ResolvedSettings, kafka_env, signing_env
from optimerge.infra._ports import free_ports
from optimerge.infra.secrets import LocalSecrets
from streams.acls import APP
from tests.fix_infra import principal_settings


class AppProcess:
    def __init__(self, settings: ResolvedSettings, workdir: Path) -> None:
        [self.port] = free_ports(1)
        # The app runs as its principal and signs with its key, whatever the test acts as.
        settings = principal_settings(settings, LocalSecrets(settings.infra.state_dir), APP)
        env = dict(
            os.environ,
            **kafka_env(settings.kafka),
            **signing_env(settings.signing),
            KAFKA_BOOTSTRAP_SERVERS=settings.kafka_bootstrap_servers,
            DATABASE_URL=settings.database_url,
            OPTIMERGE_APP_DATABASE_URL=settings.app_url,
            OPTIMERGE_TOPIC_PREFIX=settings.topic_prefix,
            OPTIMERGE_INFRA__STATE_DIR=str(workdir),
        )
        self.log_path = workdir / "app.log"
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "optimerge", "app", "--port", str(self.port)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def healthz(self, timeout: float = 5.0) -> httpx.Response:
        return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=timeout)

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if self.healthz(2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"the app did not answer: {self.log_path.read_text()[-2000:]}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
