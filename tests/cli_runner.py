"""Running the `optimerge` command as a person would: a subprocess, settings in env vars."""

from __future__ import annotations

import os
import subprocess
import sys

from config import ResolvedSettings, kafka_env, signing_env


def run_optimerge(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimerge", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def cli_env(settings: ResolvedSettings) -> dict[str, str]:
    """The env a deployment sets for these settings: each database role's URL, topics, Kafka
    as the settings' principal (and its signing keys)."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
        "DATABASE_URL": settings.database_url,
        "OPTIMERGE_APP_DATABASE_URL": settings.app_url,
        "OPTIMERGE_MIGRATION_DATABASE_URL": settings.migration_url,
        "OPTIMERGE_TOPIC_PREFIX": settings.topic_prefix,
        "OPTIMERGE_PARTITIONS": str(settings.partitions),
        "OPTIMERGE_INFRA__STATE_DIR": str(settings.infra.state_dir),
        **kafka_env(settings.kafka),
        **signing_env(settings.signing),
    }
