"""Two FHIR client libraries nobody here wrote (fhirpy, SMART's fhirclient) read the /fhir/ API
of a live app (real uvicorn) fed by a real worker from real Kafka: read, search with paging,
$everything, history, Provenance and the model Device; a rollback and a correction sent through
the stream show as FHIR clients expect. Every resource and Bundle returned validates with
fhir.resources (its R4B models: the package ships no R4 module; R4B shares R4's definitions of
every type served here) and parses with fhirclient's strict R4 (4.0.1) models."""

from __future__ import annotations

import time
from typing import Any

import httpx2 as httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhirclient import client as smart_client
from fhirclient.models.bundle import Bundle as SmartBundle
from fhirclient.models.condition import Condition as SmartCondition
from fhirclient.models.patient import Patient as SmartPatient
from fhirclient.models.provenance import Provenance as SmartProvenance
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from config import ResolvedSettings
from domain.fhir_ai import provenance_id
from optimerge.demo import load_sample
from schemas import ExtractionResult
from storage.db import connect
from storage.patients import import_patients
from webapp import create_app

from ..pipeline._helpers import publish, wait_until_processed
from ._server import AppServer
from .conftest import app_parts
from .test_fhir_api import token_for

PER_DOCUMENT = 8


def validate(resource: dict[str, Any]) -> None:
    """fhir.resources (R4B) validates the resource, and every resource of a Bundle."""
    get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    for entry in resource.get("entry") or []:
        if "resource" in entry:
            get_fhir_model_class(entry["resource"]["resourceType"]).model_validate(
                entry["resource"]
            )


def documents_for_one_patient() -> tuple[dict[str, Any], list[ExtractionResult]]:
    sample = load_sample()
    patient = max(sample.patients, key=lambda p: len(sample.resources[p["id"]]))
    pool = [dict(r) for r in sample.resources[patient["id"]]]
    name = patient["name"][0]
    results = []
    for n in range(0, len(pool), PER_DOCUMENT):
        results.append(
            ExtractionResult.model_validate(
                {
                    "document_id": f"fhir-doc-{n // PER_DOCUMENT:02d}",
                    "patient_id": patient["id"],
                    "uploaded_at": "2026-11-22T10:00:00Z",
                    "extracted_at": "2026-11-22T10:00:05Z",
                    "model": {"name": "extractor-large", "version": "2026.10"},
                    "confidence": 0.97,
                    "patient": {
                        "name": {"family": name["family"], "given": name["given"]},
                        "birth_date": patient["birthDate"],
                    },
                    "resources": pool[n : n + PER_DOCUMENT],
                }
            )
        )
    return patient, results


def act(http: httpx.Client, document_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """A review action through the JSON API and the stream; waits for the worker's outcome."""
    sent = http.post(f"/api/documents/{document_id}/actions", json=body)
    assert sent.status_code == 202, sent.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        status = http.get(sent.json()["status_url"]).json()
        if status["action"]["state"] == "done":
            assert status["action"]["outcome"] == "applied", status
            return status
        time.sleep(0.2)
    raise AssertionError(f"no worker applied {body['action']} on {document_id} within 60 s")


def security_codes(resource: Any) -> list[str]:
    meta = resource["meta"] if isinstance(resource, dict) else resource.meta
    return [c["code"] if isinstance(c, dict) else c.code for c in meta["security"]]


@pytest.mark.slow
def test_fhir_clients_read_a_record_fed_by_a_worker(settings: ResolvedSettings, start_worker):
    patient, results = documents_for_one_patient()
    pid = patient["id"]
    with connect(settings.migration_url) as conn:
        import_patients(conn, [patient])
    worker = start_worker()
    publish(settings, results)
    wait_until_processed(settings, len(results), timeout=120)
    auth = token_for(settings.app_url, "clinic", "reviewer")
    app = create_app(*app_parts(settings, live_updates=False))
    with AppServer(app) as server:
        base = f"{server.url}/fhir"
        fhir = SyncFHIRClient(base, authorization=auth["Authorization"])
        lenient = SyncFHIRClient(
            base,
            authorization=auth["Authorization"],
            extra_headers={"Prefer": "handling=lenient"},
        )
        http = httpx.Client(base_url=server.url, headers=auth, timeout=30)

        # fhirpy: read, search with paging (follows the next links), sort, count.
        read = fhir.reference("Patient", pid).to_resource()
        validate(read.serialize())
        conditions = fhir.resources("Condition").search(patient=pid).limit(3).fetch_all()
        observations = (
            fhir.resources("Observation")
            .search(subject=f"Patient/{pid}")
            .sort("-_lastUpdated")
            .limit(20)
            .fetch_all()
        )
        stored = {r["resourceType"] for r in results[0].resources}
        assert conditions and observations and stored
        # fhirpy's count() adds its own _totalMethod: refused (400) unless lenient.
        assert lenient.resources("Condition").search(patient=pid).count() == len(conditions)
        expected = sum(1 for d in results for r in d.resources if r["resourceType"] == "Condition")
        assert len(conditions) == expected
        assert len({c["id"] for c in conditions}) == expected
        for resource in [*conditions, *observations]:
            body = resource.serialize()
            validate(body)
            assert security_codes(body) == ["AIAST"]
            assert body["extension"][-1]["valueDecimal"] == 0.97
        stamps = [o["meta"]["lastUpdated"] for o in observations]
        assert stamps == sorted(stamps, reverse=True)

        # $everything, history, Provenance and the model Device.
        everything = fhir.execute(f"Patient/{pid}/$everything", method="get")
        validate(everything)
        kinds = [e["resource"]["resourceType"] for e in everything["entry"]]
        assert kinds.count("Patient") == 1 and kinds.count("Device") == 1
        assert kinds.count("Provenance") == len(results)
        first = conditions[0]
        history = fhir.execute(f"Condition/{first['id']}/_history", method="get")
        validate(history)
        assert history["type"] == "history" and history["total"] == 1
        [provenance] = fhir.resources("Provenance").search(target=f"Condition/{first['id']}")
        validate(provenance.serialize())
        assert provenance["reason"][0]["coding"][0]["code"] == "AIAST"
        device = fhir.reference(reference=provenance["agent"][0]["who"]["reference"]).to_resource()
        validate(device.serialize())
        assert device["deviceName"][0]["name"] == "extractor-large"
        assert device["type"]["coding"][0]["code"] == "Artificial-Intelligence"

        # SMART's fhirclient: capability first (public), then reads with the bearer token.
        smart = smart_client.FHIRClient(settings={"app_id": "tests", "api_base": f"{base}/"})
        smart.server.session.headers["Authorization"] = auth["Authorization"]
        smart.prepare()
        assert smart.server.capabilityStatement.fhirVersion == "4.0.1"
        assert SmartPatient.read(pid, smart.server).id == pid
        search = SmartCondition.where(struct={"patient": pid, "_count": "4"})
        pages = list(search.perform_iter(smart.server))
        assert len(pages) == -(-expected // 4)
        smart_conditions = [e.resource for page in pages for e in page.entry or []]
        assert sorted(c.id for c in smart_conditions) == sorted(c["id"] for c in conditions)
        smart_provenance = SmartProvenance.where(struct={"patient": pid}).perform_iter(smart.server)
        assert sum(len(p.entry or []) for p in smart_provenance) == len(results)
        SmartBundle(everything)  # fhirclient's strict R4 model takes the whole record

        # A rollback through the stream: 410 on read, gone from search, history kept.
        rolled = results[0]
        doc = http.get(f"/api/documents/{rolled.document_id}").json()
        act(http, rolled.document_id, {"action": "rollback", "expected_version": doc["version"]})
        gone = doc["resources"][0]
        gone_url = f"/fhir/{gone['resourceType']}/{gone['id']}"
        answer = http.get(gone_url)
        assert answer.status_code == 410 and answer.json()["issue"][0]["code"] == "deleted"
        validate(answer.json())
        with pytest.raises(ResourceNotFound):
            fhir.reference(gone["resourceType"], gone["id"]).to_resource()
        source = f"document_{rolled.document_id}"
        assert fhir.resources(gone["resourceType"]).search(_source=source).fetch_all() == []
        assert (
            fhir.resources("Provenance")
            .search(target=f"{gone['resourceType']}/{gone['id']}")
            .fetch_all()
            == []
        )
        rolled_provenance = http.get(f"/fhir/Provenance/{provenance_id(rolled.document_id)}")
        assert rolled_provenance.status_code == 410
        trail = fhir.execute(f"{gone['resourceType']}/{gone['id']}/_history", method="get")
        validate(trail)
        assert [e["request"]["method"] for e in trail["entry"]] == ["DELETE", "POST"]

        # A correction: the changed resource has two versions; the reviewer is on record.
        corrected_doc = results[1]
        doc = http.get(f"/api/documents/{corrected_doc.document_id}").json()
        narrative = '<div xmlns="http://www.w3.org/1999/xhtml">checked against the letter</div>'
        changed = {**doc["resources"][0], "text": {"status": "additional", "div": narrative}}
        act(
            http,
            corrected_doc.document_id,
            {
                "action": "correct_data",
                "expected_version": doc["version"],
                "corrected_resources": [changed, *doc["resources"][1:]],
            },
        )
        kind, rid = changed["resourceType"], changed["id"]
        now = fhir.reference(kind, rid).to_resource()
        assert now["meta"]["versionId"] == "2"
        assert security_codes(now.serialize()) == ["AIAST", "CLINAST"]
        versions = fhir.execute(f"{kind}/{rid}/_history", method="get")
        validate(versions)
        assert [e["resource"]["meta"]["versionId"] for e in versions["entry"]] == ["2", "1"]
        assert "text" not in versions["entry"][1]["resource"]
        assert security_codes(versions["entry"][1]["resource"]) == ["AIAST"]
        v1 = fhir.execute(f"{kind}/{rid}/_history/1", method="get")
        assert "text" not in v1 and now["text"]["status"] == "additional"
        [reviewed] = fhir.resources("Provenance").search(target=f"{kind}/{rid}")
        validate(reviewed.serialize())
        roles = [a["type"]["coding"][0]["code"] for a in reviewed["agent"]]
        assert roles == ["author", "verifier"]
        assert reviewed["agent"][1]["who"]["display"] == "clinic"
        http.close()
    assert worker.stop() == 0
