"""The FHIR read API's own rules, in process against the real database: errors as
OperationOutcome with the right status, conditional reads, paging links, date searches,
AI transparency, roles. (test_fhir_clients.py reads it with real FHIR clients over HTTP.)"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.capabilitystatement import CapabilityStatement
from fhir.resources.R4B.operationoutcome import OperationOutcome
from starlette.testclient import TestClient

from config import ResolvedSettings
from storage.accounts import create_api_token
from storage.db import connect
from webapp.passwords import new_api_token

from ._support import add_user, seed_documents

FHIR_JSON = "application/fhir+json"


def token_for(database_url: str, name: str, role: str) -> dict[str, str]:
    add_user(database_url, name, role)
    token, digest = new_api_token()
    with connect(database_url) as conn:
        create_api_token(conn, name, digest, "tests")
    return {"Authorization": f"Bearer {token}"}


def assert_outcome(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    body = response.json()
    OperationOutcome.model_validate(body)
    assert body["issue"][0]["code"] == code, body
    return body


@pytest.fixture
def seeded(settings: ResolvedSettings, make_client: Callable[[], TestClient]):
    docs = seed_documents(settings, 30)
    auth = token_for(settings.database_url, "clinic", "reviewer")
    client = make_client()
    client.headers.update(auth)
    return docs, client


def test_metadata_is_public_and_valid(make_client: Callable[[], TestClient]) -> None:
    response = make_client().get("/fhir/metadata")
    assert response.status_code == 200
    statement = response.json()
    CapabilityStatement.model_validate(statement)
    types = {r["type"] for r in statement["rest"][0]["resource"]}
    assert {"Patient", "Condition", "Observation", "Provenance", "Device"} <= types


def test_read_search_and_errors(seeded) -> None:
    docs, client = seeded
    patient = docs[0].result.patient_id
    bundle = client.get(f"/fhir/Observation?patient={patient}&_count=2")
    assert bundle.status_code == 200, bundle.text
    Bundle.model_validate(bundle.json())
    body = bundle.json()
    print(body["total"], [l["relation"] for l in body["link"]])
    first = body["entry"][0]["resource"]
    read = client.get(f"/fhir/Observation/{first['id']}")
    assert read.status_code == 200
    assert read.headers["etag"] == f'W/"{first["meta"]["versionId"]}"'
    assert (
        client.get(
            f"/fhir/Observation/{first['id']}", headers={"If-None-Match": read.headers["etag"]}
        ).status_code
        == 304
    )
    assert_outcome(client.get("/fhir/Observation?nope=1"), 400, "invalid")
    assert (
        client.get("/fhir/Observation?nope=1", headers={"Prefer": "handling=lenient"}).status_code
        == 200
    )
    assert_outcome(client.get("/fhir/Observation/does-not-exist"), 404, "not-found")
    assert_outcome(client.get("/fhir/Nope/1"), 404, "not-supported")
    every = client.get(f"/fhir/Patient/{patient}/$everything")
    assert every.status_code == 200, every.text
    Bundle.model_validate(every.json())
    prov = client.get(f"/fhir/Provenance?target=Observation/{first['id']}")
    assert prov.status_code == 200 and prov.json()["total"] == 1, prov.text
    p = prov.json()["entry"][0]["resource"]
    dev = client.get("/fhir/" + p["agent"][0]["who"]["reference"])
    assert dev.status_code == 200, dev.text
    assert client.get(f"/fhir/Provenance/{p['id']}").status_code == 200
    hist = client.get(f"/fhir/Observation/{first['id']}/_history")
    assert hist.status_code == 200
    Bundle.model_validate(hist.json())
