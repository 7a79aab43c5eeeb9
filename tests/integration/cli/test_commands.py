"""The operator's commands, run as a person would: a subprocess with the env vars set."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson

from storage.db import connect

PATIENT = {
    "resourceType": "Patient",
    "id": "p-cli-1",
    "name": [{"use": "official", "family": "Olivares", "given": ["Caridad"]}],
    "birthDate": "1985-02-11",
}


def optimerge(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "optimerge", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_patients_import_reads_bundles_and_resources_and_names_what_it_skipped(
    database_url: str, tmp_path: Path
) -> None:
    second = dict(PATIENT, id="p-cli-2")
    bundle = {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": second}]}
    (tmp_path / "one.json").write_bytes(orjson.dumps(PATIENT))
    (tmp_path / "bundle.json").write_bytes(orjson.dumps(bundle))
    (tmp_path / "other.json").write_bytes(orjson.dumps({"resourceType": "Observation"}))
    run = optimerge(database_url, "patients", "import", str(tmp_path))
    assert run.returncode == 0, run.stderr
    assert "imported 2 patient(s); skipped 1 file(s)" in run.stderr
    assert "other.json: no Patient resource in it" in run.stderr
    with connect(database_url) as conn:
        rows = conn.execute("SELECT patient_id, family FROM patients ORDER BY 1").fetchall()
    assert rows == [("p-cli-1", "Olivares"), ("p-cli-2", "Olivares")]


def test_document_show_exits_1_for_an_unknown_document(database_url: str) -> None:
    run = optimerge(database_url, "document", "show", "nope")
    assert run.returncode == 1
    assert "document nope does not exist" in run.stderr


def test_every_command_has_help() -> None:
    commands = [
        [],
        ["infra"],
        ["infra", "up"],
        ["worker"],
        ["publish"],
        ["demo"],
        ["run"],
        ["patients", "import"],
        ["patient", "bundle"],
        ["document", "show"],
        ["dlq", "list"],
        ["dlq", "replay"],
        ["monitor"],
        ["bench"],
        ["audit", "verify"],
        ["audit", "checkpoint"],
        ["import-legacy"],
        ["migrate"],
    ]

    def help_of(command: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "optimerge", *command, "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    # Each its own process, as a person runs it; two at a time: the interpreter's start is
    # most of each run.
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(help_of, commands))
    for command, run in zip(commands, runs, strict=True):
        assert run.returncode == 0, (command, run.stderr)
        assert "Usage" in run.stdout
