"""Issue 13: no patient data in logs. A feed with known names and birth dates (flags, reviews, a
correction, a rollback, and database errors that quote the failing row) runs through a real
worker and a real `optimerge app` (searched by name in query strings); then every log line (the
worker's, the app's, the checkpointer's, Kafka's and PostgreSQL's under the state dir), every
status event, dead-letter reason, stored error and audit detail is searched for the names and
dates. Dead-letter payloads are the events as sent (patient data by design, admins only): they
are left out of the search."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from config import ResolvedSettings
from optimerge.infra._ports import free_ports
from schemas import ExtractionResult
from storage.accounts import create_api_token
from storage.db import connect
from storage.patients import import_patients
from streams.acls import CHECKPOINTER
from streams.consumers import read_to_end
from streams.topics import Topics
from tests.cli_runner import cli_env, run_optimerge
from tests.integration.pipeline._helpers import publish
from tests.integration.webapp._support import add_user
from tests.integration.webapp.conftest import app_identity
from webapp.passwords import new_api_token

NEEDLES = ("zebulon", "quaxworth", "philippa", "oddbrook", "1931-07-14", "1947-12-03", "1931-07-15")
PROBE = "db-error-probe"
PATIENTS = [
    {
        "resourceType": "Patient",
        "id": "p-phi-1",
        "name": [{"use": "official", "family": "Quaxworth", "given": ["Zebulon"]}],
        "birthDate": "1931-07-14",
    },
    {
        "resourceType": "Patient",
        "id": "p-phi-2",
        "name": [{"use": "official", "family": "Oddbrook", "given": ["Philippa"]}],
        "birthDate": "1947-12-03",
    },
]
NAMES = {"p-phi-1": ("Quaxworth", "Zebulon"), "p-phi-2": ("Oddbrook", "Philippa")}


def _resources(patient_id: str, *, probe: bool = False) -> list[dict[str, Any]]:
    family, given = NAMES[patient_id]
    subject = {"reference": f"Patient/{patient_id}", "display": f"{given} {family}"}
    return [
        {"resourceType": "Condition", "code": {"text": PROBE if probe else "Hypertension"},
         "subject": subject, "note": [{"text": f"{given} {family} reports headaches"}]},
        {"resourceType": "Observation", "status": "final", "code": {"text": "Blood pressure"},
         "subject": subject},
    ]  # fmt: skip


def _document(
    document_id: str, patient_id: str, *, birth: str, confidence: float = 0.95, probe: bool = False
) -> ExtractionResult:
    family, given = NAMES[patient_id]
    return ExtractionResult.model_validate(
        {
            "document_id": document_id,
            "patient_id": patient_id,
            "uploaded_at": "2026-11-22T10:00:00Z",
            "extracted_at": "2026-11-22T10:00:05Z",
            "model": {"name": "extractor-large", "version": "2026.10"},
            "confidence": confidence,
            "patient": {"name": {"family": family, "given": [given]}, "birth_date": birth},
            "resources": _resources(patient_id, probe=probe),
        }
    )


@pytest.fixture
def app_process(settings: ResolvedSettings, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`optimerge app` as deployed: its own database role and Kafka principal, its access log
    in a file."""
    [port] = free_ports(1)
    log_path = tmp_path / "app.log"
    env = {
        **os.environ,
        **cli_env(app_identity(settings)),
        "OPTIMERGE_APP_SECRET_KEY": "phi-test-" + "s" * 40,
        "PYTHONUNBUFFERED": "1",
    }
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "optimerge", "app", "--port", str(port), "--insecure-http"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait(lambda: _answers(base), 60, "the app to answer /healthz")
            yield base, log_path
        finally:
            proc.terminate()
            proc.wait(15)


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _wait(done: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return
        time.sleep(0.2)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def _state(settings: ResolvedSettings, document_id: str) -> tuple[str, int] | None:
    with connect(settings.migration_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT processing_status, version FROM documents WHERE document_id = %s",
            (document_id,),
        ).fetchone()
    return None if row is None else (row[0], row[1])


def correction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"action": "correct_data", "expected_version": 1, "corrected_resources": resources}


def _act(client: httpx.Client, document_id: str, body: dict[str, Any]) -> None:
    sent = client.post(f"/api/documents/{document_id}/actions", json=body)
    assert sent.status_code == 202, sent.text


def test_no_name_or_birth_date_reaches_a_log_an_event_or_the_audit_trail(
    settings: ResolvedSettings,
    as_principal: Callable[[str], ResolvedSettings],
    start_worker: Callable[..., Any],
    app_process: tuple[str, Path],
    tmp_path: Path,
) -> None:
    base, app_log = app_process
    with connect(settings.migration_url) as conn:
        import_patients(conn, PATIENTS)
        # A database error that quotes the failing row, resource bodies with names in it.
        conn.execute(
            "ALTER TABLE resources ADD CONSTRAINT phi_probe "
            f"CHECK (body->'code'->>'text' IS DISTINCT FROM '{PROBE}')"
        )
        conn.commit()
    add_user(settings.migration_url, "ana", "admin")
    token, digest = new_api_token()
    with connect(settings.migration_url) as conn:
        create_api_token(conn, "ana", digest, "phi test")
        conn.commit()
    worker = start_worker()
    feed = [
        _document("phi-ok", "p-phi-1", birth="1931-07-14"),
        _document("phi-dob", "p-phi-1", birth="1931-07-15"),  # flagged: birth date conflict
        _document("phi-low", "p-phi-2", birth="1947-12-03", confidence=0.4),  # flagged
        _document("phi-gone", "p-phi-2", birth="1947-12-03"),
        _document("phi-db-error", "p-phi-1", birth="1931-07-14", probe=True),
    ]
    publish(settings, feed)
    for doc in feed:
        _wait(lambda d=doc: _state(settings, d.document_id) is not None, 120, doc.document_id)
    assert _state(settings, "phi-db-error") == ("FAILED", 1)

    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        _act(client, "phi-dob", {"action": "mark_correct", "expected_version": 1, "note": "ok"})
        fixed = _resources("p-phi-2")
        _act(client, "phi-low", correction(fixed))
        _act(client, "phi-gone", {"action": "rollback", "expected_version": 1})
        # A correction the database refuses (the probe again): the action is answered invalid.
        _act(client, "phi-ok", correction(_resources("p-phi-1", probe=True)))
        for document_id in ("phi-dob", "phi-low", "phi-gone"):
            _wait(lambda d=document_id: (_state(settings, d) or ("", 0))[1] == 2, 60, document_id)
        # Reads with names in the query string, as a reviewer's search has them.
        assert (
            client.get("/api/flagged", params={"patient": "Zebulon Quaxworth"}).status_code == 200
        )
        found = client.get("/fhir/Patient", params={"_id": "p-phi-2"})
        assert found.status_code == 200 and found.json()["total"] == 1
        # Refused (not a Patient search parameter here), and logged all the same.
        refused = client.get(
            "/fhir/Patient", params={"name": "Oddbrook", "birthdate": "1947-12-03"}
        )
        assert refused.status_code == 400
        assert client.get("/documents/flagged/", params={"patient": "Philippa Oddbrook"}).is_success
        assert client.get("/api/patients/p-phi-1/bundle").status_code == 200
        assert client.get("/documents/phi-dob/verify/").status_code == 200
    checkpointer = cli_env(as_principal(CHECKPOINTER))  # the one writer of audit.checkpoints
    checkpoint = run_optimerge("audit", "checkpoint", "--once", **checkpointer)
    topics = Topics(settings.topic_prefix)
    _wait(lambda: len(_dead_letters(settings, topics)) >= 2, 60, "two dead letters")
    worker.stop()

    places = {
        "worker log": worker.log_text(),
        "app log": app_log.read_text(errors="replace"),
        "checkpointer": checkpoint.stdout + checkpoint.stderr,
        **_server_logs(settings.infra.state_dir),
        "document.status": _topic_text(settings, topics.document_status.name),
        "dead-letter reasons": "\n".join(_dead_letters(settings, topics)),
        **_database_texts(settings),
    }
    found_in = {place: [n for n in NEEDLES if n in text.lower()] for place, text in places.items()}
    assert {p: n for p, n in found_in.items() if n} == {}
    # The search did look at what it should: the errors are there, told by code and name.
    assert "CheckViolation (SQLSTATE 23514, constraint phi_probe)" in places["documents.error"]
    assert "constraint phi_probe" in places["dead-letter reasons"]
    assert "GET /fhir/Patient HTTP" in places["app log"]
    assert "postgres.log" in " ".join(places)


def _server_logs(state_dir: Path) -> dict[str, str]:
    """Every log file under the state dir; not the data dirs (Kafka's segments, also named
    `.log`, are the events themselves)."""
    logs = {
        str(path.relative_to(state_dir)): path.read_text(errors="replace")
        for path in state_dir.rglob("*.log*")
        if path.is_file() and "data" not in path.relative_to(state_dir).parts
    }
    assert any("kafka" in name for name in logs) and any("postgres" in name for name in logs)
    return logs


def _topic_text(settings: ResolvedSettings, topic: str) -> str:
    return "\n".join(r.value.decode() for r in read_to_end(settings.kafka_endpoint, topic))


def _dead_letters(settings: ResolvedSettings, topics: Topics) -> list[str]:
    letters = [
        topics.dlq.decode(r.value) for r in read_to_end(settings.kafka_endpoint, topics.dlq.name)
    ]
    return [letter.reason for letter in letters]


def _database_texts(settings: ResolvedSettings) -> dict[str, str]:
    queries = {
        "audit details": "SELECT details::text FROM audit_log",
        "documents.error": "SELECT coalesce(error, '') FROM documents",
        "review_actions.reason": "SELECT coalesce(reason, '') FROM review_actions",
        "read audit": "SELECT row_to_json(r)::text FROM read_audit r",
        "verification records": "SELECT record FROM audit_verifications",
    }
    with connect(settings.migration_url) as conn:
        return {
            place: "\n".join(row[0] for row in conn.execute(query).fetchall())
            for place, query in queries.items()
        }
