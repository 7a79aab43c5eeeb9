"""AI transparency (HL7 AI Transparency on FHIR IG): labels, confidence, Device, Provenance."""

from __future__ import annotations

from datetime import UTC, datetime

from fhir.resources.R4B.device import Device
from fhir.resources.R4B.provenance import Provenance

from domain.bundle import Contribution, provenance_for
from domain.fhir_ai import (
    AI_CONFIDENCE_URL,
    Extraction,
    ai_device,
    decorate,
    device_id,
    md5_uuid,
    provenance_id,
)

FLAGGED = Extraction("d-1", 0.72, "extractor-large", "2026.10", True, "flagged")
REVIEWED = Extraction("d-1", 0.72, "extractor-large", "2026.10", True, "reviewed", "ana")
CONDITION = {
    "resourceType": "Condition",
    "id": "c-1",
    "meta": {"source": "document_d-1", "security": [{"system": "s", "code": "R"}]},
    "extension": [{"url": AI_CONFIDENCE_URL, "valueDecimal": 0.1}, {"url": "x", "valueCode": "y"}],
}


def codes(resource):
    return [c["code"] for c in resource["meta"]["security"]]


def test_every_merged_resource_is_ai_asserted_with_its_confidence():
    labelled = decorate(CONDITION, FLAGGED, current=True)
    assert codes(labelled) == ["R", "AIAST"]  # labels already there stay
    assert labelled["extension"] == [
        {"url": "x", "valueCode": "y"},
        {"url": AI_CONFIDENCE_URL, "valueDecimal": 0.72},
    ]
    assert codes(CONDITION) == ["R"]  # a copy: the stored body is untouched
    assert codes(decorate(labelled, FLAGGED, current=True)) == ["R", "AIAST"]


def test_a_person_verified_only_the_current_versions_of_a_reviewed_document():
    assert codes(decorate(CONDITION, REVIEWED, current=True)) == ["R", "AIAST", "CLINAST"]
    assert codes(decorate(CONDITION, REVIEWED, current=False)) == ["R", "AIAST"]


def test_the_model_is_an_ai_device_naming_fallback():
    device = ai_device("extractor-small", "", True)
    Device.model_validate(device)
    assert (
        device["id"]
        == device_id("extractor-small", "", True)
        != device_id("extractor-small", "", False)
    )
    assert "version" not in device
    assert device["property"][0]["valueCode"][0]["coding"][0]["code"] == "Y"
    assert device["type"]["coding"][0]["code"] == "Artificial-Intelligence"


def test_provenance_names_the_model_and_once_reviewed_the_verifier():
    contribution = Contribution(
        "d-1",
        3,
        REVIEWED,
        "Letter",
        datetime(2026, 11, 22, tzinfo=UTC),
        ("Condition/c-1/_history/1",),
        extracted_at=datetime(2026, 11, 21, tzinfo=UTC),
        updated_at=datetime(2026, 11, 23, tzinfo=UTC),
    )
    provenance = provenance_for(contribution)
    Provenance.model_validate(provenance)
    assert provenance["id"] == provenance_id("d-1")
    assert provenance["meta"]["versionId"] == "3"
    assert provenance["reason"][0]["coding"][0]["code"] == "AIAST"
    author, verifier = provenance["agent"]
    assert author["who"]["reference"] == f"Device/{device_id('extractor-large', '2026.10', True)}"
    assert author["role"][0]["coding"][0]["code"] == "Artificial-Intelligence"
    assert verifier["type"]["coding"][0]["code"] == "verifier"
    assert verifier["who"]["display"] == "ana"
    assert codes(provenance) == ["CLINAST"]
    flagged = provenance_for(Contribution("d-1", 1, FLAGGED, None, None, ("Condition/c-1",)))
    assert len(flagged["agent"]) == 1 and "security" not in flagged["meta"]


def test_derived_ids_are_what_postgresql_computes():
    # PostgreSQL 15: SELECT md5('provenance' || chr(31) || 'd-1')::uuid
    assert provenance_id("d-1") == md5_uuid("provenance", "d-1")
    assert provenance_id("d-1") == "f08eb785-0789-5143-5b28-e7e34f6f7588"
