"""An installed wheel runs on its own: `optimerge infra up` and `optimerge demo` from a directory
that is no checkout, with every path from the working directory, settings or the package."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from optimerge.infra._ports import free_ports

ROOT = Path(__file__).resolve().parents[2]
_NOT_SOURCE = (".git", ".venv", ".state", "build", "*.egg-info", "__pycache__", "*_cache")


@pytest.fixture(scope="module")
def wheel_python() -> Iterator[Path]:
    """A Python whose only optimerge is the wheel; its dependencies come from the project's venv."""
    work = Path(tempfile.mkdtemp(prefix="optimerge-wheel-", dir="/tmp"))
    try:
        # Built from a copy: setuptools builds in the source tree, and a stale build/ there
        # would carry modules deleted since into the wheel.
        source = work / "source"
        shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*_NOT_SOURCE))
        pip = [sys.executable, "-m", "pip", "-q"]
        dist = work / "dist"
        build = subprocess.run(
            [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(dist), str(source)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert build.returncode == 0, build.stderr
        [wheel] = dist.glob("optimerge-*.whl")
        venv = work / "venv"
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        site = Path(sysconfig.get_path("purelib", vars={"base": str(venv)}))
        # A pure wheel is installed by unpacking it (pip here would first uninstall the project's
        # own editable install from the running venv).
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(site)
            names = set(archive.namelist())
        data = {
            "optimerge/infra/jvm/pom.xml",
            "optimerge/infra/jvm/log4j2.properties",
            "optimerge/demo/data/sample.json.gz",
            "storage/migrations/0001_initial.sql",
            "webapp/templates/verify.html",
            "webapp/static/app.js",
            "schemas/json/ExtractionResult.schema.json",
        }
        assert data <= names, sorted(data - names)
        # Dependencies only: the editable install's finder lives in a .pth that this path does
        # not run, so `import optimerge` finds the wheel's copy.
        (site / "_optimerge_deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
        yield venv / "bin" / "python"
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_wheel_brings_up_the_system_and_publishes_the_demo_outside_a_checkout(
    wheel_python: Path,
) -> None:
    # Readable by the OS user that runs PostgreSQL when we are root.
    outside = Path(tempfile.mkdtemp(prefix="optimerge-outside-", dir="/tmp"))
    outside.chmod(0o755)
    kafka, controller, postgres = free_ports(3)
    env = {
        k: v for k, v in os.environ.items() if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
    }
    env.update(
        OPTIMERGE_INFRA__KAFKA_PORT=str(kafka),
        OPTIMERGE_INFRA__KAFKA_CONTROLLER_PORT=str(controller),
        OPTIMERGE_INFRA__POSTGRES_PORT=str(postgres),
        OPTIMERGE_PARTITIONS="3",
    )

    def optimerge(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(wheel_python), "-m", "optimerge", *args],
            cwd=outside,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    try:
        where = subprocess.run(
            [str(wheel_python), "-c", "import optimerge, storage; print(optimerge.__file__)"],
            cwd=outside,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        assert str(wheel_python.parents[1]) in where.stdout, where.stdout

        up = optimerge("infra", "up")
        assert up.returncode == 0, up.stderr
        assert f"export KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:{kafka}" in up.stdout
        assert (outside / ".state" / "kafka" / "server.properties").is_file()

        demo = optimerge("demo", "--count", "20")
        assert demo.returncode == 0, demo.stderr
        assert "imported 12 patients from the Synthea sample" in demo.stdout
        assert "published 20 documents" in demo.stdout
    finally:
        down = optimerge("infra", "down")
        shutil.rmtree(outside, ignore_errors=True)
    assert down.returncode == 0, down.stderr
