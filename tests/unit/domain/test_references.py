"""What counts as a reference to another patient's data (domain/references.py)."""

from __future__ import annotations

from domain.references import foreign_references, parse_reference, references_in

OWN = "p-1"


def test_reference_forms_are_read():
    assert parse_reference("Patient/p-2").id == "p-2"  # type: ignore[union-attr]
    assert parse_reference("https://fhir.example/r4/Patient/p-2/_history/3").id == "p-2"  # type: ignore[union-attr]
    assert parse_reference("urn:uuid:abc").resource_type == ""  # type: ignore[union-attr]
    assert parse_reference("#contained") is None
    assert parse_reference("NotAType/1") is None


def test_another_patient_or_their_stored_resource_is_foreign():
    resources = [
        {"resourceType": "Observation", "subject": {"reference": "Patient/p-1"}},
        {"resourceType": "Observation", "subject": {"reference": "Patient/p-2"}},
        {"resourceType": "Observation", "focus": [{"reference": "Condition/their-cond"}]},
        {"resourceType": "Observation", "focus": [{"reference": "Condition/my-cond"}]},
        {"resourceType": "Observation", "focus": [{"reference": "urn:uuid:p-3"}]},
        {"resourceType": "Observation", "hasMember": [{"reference": "Observation/local-1"}]},
    ]
    owners = {"their-cond": "p-2", "my-cond": OWN, "p-3": "p-3"}
    found = foreign_references(
        OWN, references_in(resources), owners, own_references={"Observation/local-1"}
    )
    assert found == ["Patient/p-2", "Condition/their-cond", "urn:uuid:p-3"]


def test_nothing_referenced_nothing_found():
    assert references_in([{"resourceType": "Condition", "code": {"text": "x"}}]) == []
