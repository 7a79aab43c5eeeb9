"""Running the `optimerge` command as a person would: a subprocess, settings in env vars."""

from __future__ import annotations

import os
import subprocess
import sys


def run_optimerge(*args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "optimerge", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
