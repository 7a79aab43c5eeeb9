"""The JSON API: the pages' data, with a token or a session; an action is 202 Accepted and a
ReviewAction on the test's review.actions topic."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from starlette.testclient import TestClient

from config import ResolvedSettings
from pipeline.audit_checkpointer import AuditCheckpointer
from schemas import ReviewAction
from storage.accounts import create_api_token
from storage.db import connect
from streams.acls import CHECKPOINTER
from streams.topics import Topics
from webapp.passwords import new_api_token

from ..pipeline._helpers import read_topic
from ._support import add_user, login, page_token, seed_documents


def _token_for(database_url: str, name: str, role: str) -> dict[str, str]:
    add_user(database_url, name, role)
    token, digest = new_api_token()
    with connect(database_url) as conn:
        create_api_token(conn, name, digest, "tests", datetime.now(UTC) + timedelta(hours=1))
    return {"Authorization": f"Bearer {token}"}


def test_reads_with_a_token(
    settings: ResolvedSettings,
    make_client: Callable[[], TestClient],
    as_principal: Callable[[str], ResolvedSettings],
) -> None:
    docs = seed_documents(settings, 60)
    flagged = [d.result for d in docs if d.intended_reasons]
    auth = _token_for(settings.app_url, "robot", "auditor")
    client = make_client()

    listing = client.get("/api/flagged?per_page=4", headers=auth).json()
    assert listing["total"] == listing["queue_total"] == len(flagged)
    assert listing["pages"] == -(-len(flagged) // 4)
    assert [i["document_id"] for i in listing["items"]] == [r.document_id for r in flagged[:4]]
    first = listing["items"][0]
    assert (
        first["flag_reasons"]
        and first["verify_url"] == f"/documents/{first['document_id']}/verify/"
    )
    by_reason = client.get("/api/flagged?reason=fallback_model&per_page=100", headers=auth).json()
    assert {i["document_id"] for i in by_reason["items"]} == {
        r.document_id for r in flagged if r.model.is_fallback
    }
    assert client.get("/api/flagged?per_page=x", headers=auth).status_code == 400

    doc = flagged[0]
    body = client.get(f"/api/documents/{doc.document_id}", headers=auth).json()
    assert (body["document_id"], body["version"], body["review_status"]) == (
        doc.document_id,
        1,
        "flagged",
    )
    assert body["extraction"]["source_snippets"] and len(body["resources"]) == len(doc.resources)

    status = client.get(f"/api/documents/{doc.document_id}/status", headers=auth).json()
    assert status["status"] == "COMPLETE" and status["version"] == 1 and "action" not in status
    assert (
        client.get(
            f"/api/documents/{doc.document_id}/status?action_id=nope", headers=auth
        ).status_code
        == 400
    )
    missing = client.get("/api/documents/no-such-doc", headers=auth)
    assert missing.status_code == 404 and "does not exist" in missing.json()["error"]

    bundle = client.get(f"/api/patients/{doc.patient_id}/bundle", headers=auth)
    assert bundle.headers["content-type"].startswith("application/fhir+json")
    assert bundle.json()["resourceType"] == "Bundle"
    assert client.get("/api/patients/nobody/bundle", headers=auth).status_code == 404

    audit = client.get(f"/api/audit?document={doc.document_id}", headers=auth).json()
    # Nothing verified the trail yet: its state is unknown, and said so.
    assert audit["chain"]["ok"] is None and audit["chain"]["problem"].startswith("not verified")
    assert audit["entries"][0]["action"] == "merge"
    AuditCheckpointer(as_principal(CHECKPOINTER), settings.audit_keyring()).run_once()
    audit = client.get(f"/api/audit?patient={doc.patient_id}", headers=auth).json()
    chain = audit["chain"]
    assert chain["ok"] is True and chain["stale"] is False and chain["mode"] == "incremental"
    assert chain["patient"]["ok"] and chain["patient"]["entries"] >= 1
    # The reads of this test, each recorded once: the document, the bundle (404s are not).
    reads = client.get("/api/audit/reads?actor=robot", headers=auth).json()["reads"]
    assert [(r["what"], r["channel"]) for r in reads] == [("bundle", "api"), ("document", "api")]
    assert reads[1]["patient_ids"] == [doc.patient_id]
    assert reads[1]["document_ids"] == [doc.document_id]
    assert reads[1]["client_addr"] == "testclient" and reads[1]["user_agent"]


def test_an_action_is_accepted_and_published(
    settings: ResolvedSettings, make_client: Callable[[], TestClient]
) -> None:
    docs = seed_documents(settings, 60)
    first, second = [d.result for d in docs if d.intended_reasons][:2]
    auth = _token_for(settings.app_url, "robot", "reviewer")
    client = make_client()

    accepted = client.post(
        f"/api/documents/{first.document_id}/actions",
        json={"action": "mark_correct", "expected_version": 1, "note": "checked"},
        headers=auth,
    )
    assert accepted.status_code == 202
    body = accepted.json()
    assert accepted.headers["location"] == body["status_url"]
    action_id = uuid.UUID(body["action_id"])

    # With a session instead of a token, the CSRF token rides in a header.
    add_user(settings.app_url, "ana", "reviewer")
    browser = make_client()
    login(browser, "ana")
    resources = [{"resourceType": "Condition", "code": {"text": "Asthma"}}]
    with_session = browser.post(
        f"/api/documents/{second.document_id}/actions",
        json={"action": "correct_data", "expected_version": 1, "corrected_resources": resources},
        headers={"X-CSRF-Token": page_token(browser)},
    )
    assert with_session.status_code == 202

    invalid = client.post(
        f"/api/documents/{first.document_id}/actions",
        json={"action": "correct_data", "expected_version": 1, "corrected_resources": [{"x": 1}]},
        headers=auth,
    )
    assert invalid.status_code == 422 and "resourceType" in invalid.json()["problems"][0]
    assert (
        client.post(
            f"/api/documents/{first.document_id}/actions", content=b"[", headers=auth
        ).status_code
        == 400
    )
    assert (
        client.post(
            "/api/documents/no-such-doc/actions",
            json={"action": "mark_correct", "expected_version": 1},
            headers=auth,
        ).status_code
        == 404
    )

    published = [
        ReviewAction.model_validate(m)
        for m in read_topic(settings, Topics(settings.topic_prefix).review_actions.name)
    ]
    by_id = {a.action_id: a for a in published}
    assert len(published) == 2
    sent = by_id[action_id]
    assert (sent.document_id, sent.patient_id, sent.action, sent.reviewer) == (
        first.document_id,
        first.patient_id,
        "mark_correct",
        "robot",
    )
    assert (sent.expected_version, sent.note) == (1, "checked")
    correction = next(a for a in published if a.action == "correct_data")
    assert correction.reviewer == "ana" and correction.corrected_resources == resources

    # No worker runs here: the status says the action is still being applied.
    status = client.get(body["status_url"], headers=auth).json()
    assert status["action"] == {"action_id": str(action_id), "state": "applying"}
