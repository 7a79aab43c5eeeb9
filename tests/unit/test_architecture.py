"""The house keeps its shape: each floor imports only the floors below it (pyproject.toml,
[tool.importlinter]); no package below the CLI imports `optimerge`, and no two packages import
each other."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_every_import_runs_down_the_floors() -> None:
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_runtime_paths_do_not_hang_off_the_checkout() -> None:
    # An installed wheel has no checkout around it: nothing may look for one.
    offenders = [
        str(path.relative_to(ROOT))
        for package in ("optimerge", "config", "domain", "storage", "streams", "pipeline")
        for path in (ROOT / package).rglob("*.py")
        if "PROJECT_ROOT" in path.read_text() or "parent.parent" in path.read_text()
    ]
    assert offenders == []
