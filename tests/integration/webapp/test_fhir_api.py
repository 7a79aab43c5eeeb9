"""The FHIR read API's own rules, in process against the real database: errors as
OperationOutcome with the right status, conditional reads, paging links, date searches,
Provenance by target, roles. (test_fhir_clients.py reads it with real FHIR clients over HTTP,
fed by a real worker.)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from fhir.resources.R4B import get_fhir_model_class
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


def valid(body: dict[str, Any]) -> dict[str, Any]:
    get_fhir_model_class(body["resourceType"]).model_validate(body)
    return body


def outcome_of(response: Any, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(FHIR_JSON)
    issue = valid(response.json())["issue"][0]
    assert issue["code"] == code, issue
    return str(issue["diagnostics"])


@pytest.fixture
def fhir(settings: ResolvedSettings, make_client: Callable[[], TestClient]):
    seed_documents(settings, 30)
    client = make_client()
    client.headers.update(token_for(settings.app_url, "clinic", "reviewer"))
    with connect(settings.migration_url) as conn:
        row = conn.execute(
            "SELECT r.patient_id FROM resources r JOIN patients p USING (patient_id) "
            "WHERE r.resource_type = 'Condition' AND p.record IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
        ).fetchone()
    assert row is not None, "the seeded documents hold no Condition of a known patient"
    return client, row[0]


def test_metadata_is_public_and_says_what_is_served(make_client: Callable[[], TestClient]):
    statement = valid(make_client().get("/fhir/metadata").json())
    [rest] = statement["rest"]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert {"Patient", "Condition", "Observation", "Provenance", "Device"} <= set(by_type)
    params = {p["name"] for p in by_type["Condition"]["searchParam"]}
    assert params == {"_id", "_lastUpdated", "_source", "patient", "subject"}
    assert {p["name"] for p in by_type["Provenance"]["searchParam"]} >= {"target", "patient"}
    assert by_type["Patient"]["operation"][0]["name"] == "everything"


def test_without_a_token_or_the_role_answers_outcome(
    settings: ResolvedSettings, make_client: Callable[[], TestClient]
):
    anonymous = make_client()
    outcome_of(anonymous.get("/fhir/Condition"), 401, "login")
    assert anonymous.get("/fhir/Condition").headers["www-authenticate"].startswith("Bearer")
    assert make_client().get("/openapi.json").json()["openapi"] == "3.1.0"
    auditor = make_client()
    auditor.headers.update(token_for(settings.app_url, "compliance", "auditor"))
    assert auditor.get("/fhir/Condition").status_code == 200  # auditors read records already


def test_read_is_conditional_and_labelled(fhir):
    client, patient = fhir
    found = client.get(f"/fhir/Condition?patient={patient}&_count=1").json()
    condition = valid(found["entry"][0]["resource"])
    url = f"/fhir/Condition/{condition['id']}"
    read = client.get(url)
    assert read.headers["content-type"].startswith(FHIR_JSON)
    assert read.headers["etag"] == f'W/"{condition["meta"]["versionId"]}"'
    assert read.headers["last-modified"].endswith("GMT")
    assert client.get(url, headers={"If-None-Match": read.headers["etag"]}).status_code == 304
    assert client.get(url, headers={"If-None-Match": 'W/"99"'}).status_code == 200
    since = {"If-Modified-Since": read.headers["last-modified"]}
    assert client.get(url, headers=since).status_code == 304
    body = valid(read.json())
    assert [c["code"] for c in body["meta"]["security"]] == ["AIAST"]
    assert body["extension"][-1]["url"].endswith("/StructureDefinition/AIconfidence")
    assert body["meta"]["source"].startswith("document_")
    vread = client.get(f"{url}/_history/{condition['meta']['versionId']}")
    assert vread.json() == body
    outcome_of(client.get(f"{url}/_history/7"), 404, "not-found")


def test_errors_are_operation_outcomes(fhir):
    client, _ = fhir
    text = outcome_of(client.get("/fhir/Condition?colour=blue"), 400, "invalid")
    assert "unknown parameter 'colour'" in text
    lenient = client.get("/fhir/Condition?colour=blue", headers={"Prefer": "handling=lenient"})
    assert lenient.status_code == 200
    assert "colour" not in lenient.json()["link"][0]["url"]
    outcome_of(client.get("/fhir/Condition?patient:Patient=x"), 400, "invalid")
    outcome_of(client.get("/fhir/Condition?_lastUpdated=ap2026"), 400, "invalid")
    outcome_of(client.get("/fhir/Condition?_count=-1"), 400, "invalid")
    outcome_of(client.get("/fhir/Condition?_sort=code"), 400, "invalid")
    outcome_of(client.get("/fhir/Condition?_format=xml"), 406, "not-supported")
    outcome_of(client.get("/fhir/Condition/nope"), 404, "not-found")
    outcome_of(client.get("/fhir/Unicorn/1"), 404, "not-supported")
    outcome_of(client.get("/fhir/Patient/nobody/$everything"), 404, "not-found")
    outcome_of(client.get("/fhir/a/b/c/d/e"), 404, "not-found")
    refused = client.post("/fhir/Condition", json={"resourceType": "Condition"})
    outcome_of(refused, 405, "not-supported")
    assert "GET" in refused.headers["allow"]


def test_search_pages_sorts_and_filters_by_date(fhir):
    client, patient = fhir
    everything = client.get(f"/fhir/Observation?patient={patient}&_count=0").json()
    total = everything["total"]
    assert total > 4 and "entry" not in everything
    counted = client.get(f"/fhir/Observation?patient={patient}&_summary=count").json()
    assert counted["total"] == total and "entry" not in counted
    seen: list[str] = []
    url: str | None = f"/fhir/Observation?subject=Patient/{patient}&_count=3&_sort=_lastUpdated"
    while url:
        page = valid(client.get(url).json())
        seen += [e["resource"]["id"] for e in page["entry"]]
        url = next((link["url"] for link in page["link"] if link["relation"] == "next"), None)
    assert len(seen) == len(set(seen)) == total
    newest = client.get(f"/fhir/Observation?patient={patient}&_sort=-_lastUpdated").json()
    stamps = [e["resource"]["meta"]["lastUpdated"] for e in newest["entry"]]
    assert stamps == sorted(stamps, reverse=True)
    first = stamps[-1]
    day = first[:10]
    assert (
        client.get(f"/fhir/Observation?patient={patient}&_lastUpdated={day}").json()["total"]
        == client.get(f"/fhir/Observation?patient={patient}&_lastUpdated=ge{first}").json()["total"]
    )
    none = client.get(f"/fhir/Observation?patient={patient}&_lastUpdated=lt{first}").json()
    assert none["total"] == 0
    one = newest["entry"][0]["resource"]
    by_id = client.get(f"/fhir/Observation?_id={one['id']},nope").json()
    assert [e["resource"]["id"] for e in by_id["entry"]] == [one["id"]]
    by_source = client.get(f"/fhir/Observation?_source={one['meta']['source']}").json()
    assert one["id"] in {e["resource"]["id"] for e in by_source["entry"]}
    other = client.get(f"/fhir/Observation?subject=Group/{patient}").json()
    assert other["total"] == 0


def test_provenance_device_and_everything(fhir):
    client, patient = fhir
    condition = client.get(f"/fhir/Condition?patient={patient}").json()["entry"][0]["resource"]
    ref = f"Condition/{condition['id']}"
    found = client.get(f"/fhir/Provenance?target={ref}").json()
    [entry] = found["entry"]
    provenance = valid(entry["resource"])
    assert f"{ref}/_history/1" in [t["reference"] for t in provenance["target"]]
    assert provenance["meta"]["profile"] == [
        "http://hl7.org/fhir/uv/aitransparency/StructureDefinition/AI-Provenance"
    ]
    assert client.get(f"/fhir/Provenance/{provenance['id']}").json() == provenance
    versioned = client.get(f"/fhir/Provenance?target={ref}/_history/1").json()
    assert versioned["total"] == 1
    assert client.get(f"/fhir/Provenance?target={ref}/_history/2").json()["total"] == 0
    device = valid(client.get(f"/fhir/{provenance['agent'][0]['who']['reference']}").json())
    assert device["property"][0]["valueCode"][0]["coding"][0]["code"] in ("Y", "N")
    by_patient = client.get(f"/fhir/Provenance?patient={patient}&_count=100").json()
    everything = valid(client.get(f"/fhir/Patient/{patient}/$everything").json())
    kinds = [e["resource"]["resourceType"] for e in everything["entry"]]
    assert kinds[0] == "Patient"
    assert kinds.count("Provenance") == by_patient["total"]
    assert everything["total"] == len(everything["entry"])
    modes = {e["resource"]["resourceType"]: e["search"]["mode"] for e in everything["entry"]}
    assert modes["Provenance"] == modes["Device"] == "include" and modes["Patient"] == "match"
    paged = client.get(f"/fhir/Patient/{patient}/$everything?_count=2&_offset=2").json()
    assert [e["resource"]["id"] for e in paged["entry"]] == [
        e["resource"]["id"] for e in everything["entry"][2:4]
    ]
    only = client.get(f"/fhir/Patient/{patient}/$everything?_type=Condition").json()
    assert {e["resource"]["resourceType"] for e in only["entry"]} == {"Condition"}
    read = client.get(f"/fhir/Patient/{patient}")
    assert read.json()["id"] == patient and read.headers["etag"].startswith('W/"')
    later = read.json()["meta"]["lastUpdated"]
    assert client.get(f"/fhir/Patient?_id={patient}&_lastUpdated=gt{later}").json()["total"] == 0


def test_each_fhir_answer_with_patient_data_is_one_read_audit_entry(
    fhir: tuple[TestClient, str], settings: ResolvedSettings
) -> None:
    client, patient = fhir
    search = client.get("/fhir/Condition", params={"patient": patient, "_count": 3})
    shown = len(search.json()["entry"])
    assert client.get(f"/fhir/Patient/{patient}/$everything").status_code == 200
    assert client.get(f"/fhir/Patient/{patient}").status_code == 200
    assert client.get("/fhir/Condition/no-such-id").status_code == 404  # nothing was read
    with connect(settings.migration_url) as conn:
        rows = conn.execute(
            "SELECT what, patient_ids, resource_count, actor, actor_role, channel "
            "FROM read_audit ORDER BY read_id"
        ).fetchall()
    assert [r[0] for r in rows] == ["fhir_search", "fhir_everything", "fhir_read"]
    assert all(r[1] == [patient] and r[3:] == ("clinic", "reviewer", "fhir") for r in rows)
    assert (rows[0][2], rows[2][2]) == (shown, 1)
    # Append-only, and the app's role may only add to it.
    with pytest.raises(psycopg.errors.InsufficientPrivilege), connect(settings.app_url) as conn:
        conn.execute("DELETE FROM read_audit")
    owner = connect(settings.migration_url)
    with pytest.raises(psycopg.errors.InsufficientPrivilege), owner as conn:
        conn.execute("UPDATE read_audit SET actor = 'nobody'")
