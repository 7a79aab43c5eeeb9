"""The read side: a valid FHIR R4 Bundle with Provenance per document, and the document state."""

from __future__ import annotations

from fhir.resources.R4B.bundle import Bundle

from storage.db import connect
from storage.patients import import_patients
from storage.read import document_state, read_patient_bundle

from ._factories import extraction, incoming, merge, rollback

PATIENT = {
    "resourceType": "Patient",
    "id": "3f1c2a5e-1111-4b5c-9d0e-1f2a3b4c5d6e",
    "name": [{"use": "official", "family": "Smith", "given": ["John", "Q"]}],
    "birthDate": "1970-04-03",
}
PID = PATIENT["id"]


def test_bundle_is_valid_fhir_r4_with_one_provenance_per_document(database_url):
    with connect(database_url) as conn:
        import_patients(conn, [PATIENT])
        merge(conn, [incoming(extraction("d1", PID, n=3)), incoming(extraction("d2", PID, n=2))])
        bundle = read_patient_bundle(conn, PID)
    assert bundle is not None
    Bundle.model_validate(bundle)  # raises on an invalid bundle
    types = [e["resource"]["resourceType"] for e in bundle["entry"]]
    assert types.count("Patient") == 1
    assert types.count("Provenance") == 2
    provenance = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Provenance"
    ]
    by_doc = {p["entity"][0]["what"]["identifier"]["value"]: p for p in provenance}
    assert len(by_doc["d1"]["target"]) == 3
    assert by_doc["d2"]["agent"][0]["who"]["display"] == "extractor-large 2026.10"
    # AI transparency: the model is one Device; every merged resource is labelled AI-asserted.
    [device] = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Device"]
    assert by_doc["d1"]["agent"][0]["who"]["reference"] == f"Device/{device['id']}"
    for entry in bundle["entry"]:
        if entry["resource"]["resourceType"] in ("Condition", "Observation"):
            codes = [c["code"] for c in entry["resource"]["meta"]["security"]]
            assert codes == ["AIAST"]


def test_rolled_back_documents_leave_the_bundle(database_url):
    with connect(database_url) as conn:
        import_patients(conn, [PATIENT])
        merge(conn, [incoming(extraction("d1", PID, n=3)), incoming(extraction("d2", PID, n=2))])
        rollback(conn, "d1", actor="ops")
        bundle = read_patient_bundle(conn, PID)
        state = document_state(conn, "d1")
    assert bundle is not None
    sources = {
        e["resource"]["meta"]["source"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] not in ("Patient", "Provenance", "Device")
    }
    assert sources == {"document_d2"}
    assert state is not None and state.review_status == "rejected"


def test_unknown_patient_has_no_bundle(database_url):
    with connect(database_url) as conn:
        assert read_patient_bundle(conn, "nobody") is None
