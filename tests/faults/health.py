"""What `optimerge status --json` says while a fault is on and once it is over, as a person on
call would see it: run as a subprocess (a librdkafka client that loses its broker must not take
the test process with it), in the background so that the fault's timing is not disturbed."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from config import ResolvedSettings
from optimerge.infra.secrets import LocalSecrets
from streams.acls import OPERATOR
from tests.cli_runner import cli_env, run_optimerge
from tests.fix_infra import principal_settings


def summarise(report: dict[str, Any]) -> str:
    """One line: the figures that tell a broker loss, a failover or a lost worker."""
    parts = report.get("components", {})
    kafka, db = parts.get("kafka", {}), parts.get("postgresql", {})
    group, workers = parts.get("consumer_group", {}), parts.get("workers", {})
    text = [f"kafka {kafka.get('status')} {kafka.get('brokers', '?')} brokers"]
    if "under_replicated_partitions" in kafka:
        text.append(f"{kafka['under_replicated_partitions']} under-replicated")
    text.append(f"pg {db.get('status')}" + (f" {db['server']}" if db.get("server") else ""))
    text.append(
        f"group {group.get('state', '?')} {group.get('members', '?')} members "
        f"lag {group.get('total_lag', '?')}"
    )
    text.append(f"workers alive {workers.get('alive', '?')}")
    return ", ".join(text)


@dataclass
class StatusProbe:
    settings: ResolvedSettings
    seen: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def _env(self) -> dict[str, str]:
        # As the person on call runs it: the operator principal (it may describe the group).
        secrets = LocalSecrets(self.settings.infra.state_dir)
        return cli_env(principal_settings(self.settings, secrets, OPERATOR))

    def now(self) -> str:
        done = run_optimerge("status", "--json", "--timeout", "3", timeout=60, **self._env())
        try:
            return summarise(json.loads(done.stdout))
        except ValueError:
            return f"status failed (exit {done.returncode}): {done.stderr.strip()[-200:]}"

    def later(self, row: object, attribute: str, delay: float = 0.0) -> threading.Thread:
        """Set `row.<attribute>` from a run in the background, `delay` seconds from now."""

        def run() -> None:
            time.sleep(delay)
            setattr(row, attribute, self.now())

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        self._threads.append(thread)
        return thread

    def join(self) -> None:
        for thread in self._threads:
            thread.join(90)
