"""Reading patient records from FHIR R4 Patient resources, including real Synthea ones."""

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from domain.names import name_similarity
from domain.patients import PatientRecord, patient_record_from_fhir
from schemas import HumanName

SYNTHEA_SAMPLES = Path("/work/shared/data/fhir-r4-samples")


def synthea_patient(file_name: str) -> dict[str, Any]:
    path = SYNTHEA_SAMPLES / file_name
    assert path.is_file(), f"Synthea sample {path} is missing: the real-data tests need it"
    bundle = json.loads(path.read_text())
    return next(
        entry["resource"]
        for entry in bundle["entry"]
        if entry["resource"]["resourceType"] == "Patient"
    )


def test_reads_official_name_and_birth_date():
    record = patient_record_from_fhir(
        {
            "resourceType": "Patient",
            "id": "p1",
            "name": [
                {"use": "maiden", "family": "Deckow", "given": ["Alfreda"]},
                {
                    "use": "official",
                    "family": "Wyman",
                    "given": ["Alfreda", "M"],
                    "prefix": ["Mrs."],
                },
            ],
            "birthDate": "1980-10-28",
        }
    )
    assert record == PatientRecord("p1", "Wyman", ("Alfreda", "M"), date(1980, 10, 28))


def test_first_name_without_official_and_no_birth_date():
    resource = {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"family": "Kris"}, {"family": "X"}],
    }
    assert patient_record_from_fhir(resource) == PatientRecord("p1", "Kris", (), None)


def test_no_name_at_all():
    assert patient_record_from_fhir({"resourceType": "Patient", "id": "p1"}).family is None


def test_text_only_name_is_kept_as_one_string():
    resource = {"resourceType": "Patient", "id": "p1", "name": [{"text": "John Q Smith"}]}
    record = patient_record_from_fhir(resource)
    assert (record.family, record.given) == ("John Q Smith", ())


def test_partial_birth_date_is_unknown():
    resource = {"resourceType": "Patient", "id": "p1", "birthDate": "1970-04"}
    assert patient_record_from_fhir(resource).birth_date is None


def test_invalid_birth_date_is_refused():
    with pytest.raises(ValueError, match="invalid birthDate '1970-13-45'"):
        patient_record_from_fhir({"resourceType": "Patient", "id": "p1", "birthDate": "1970-13-45"})


def test_non_patient_is_refused():
    with pytest.raises(ValueError, match="expected a FHIR Patient resource, got resourceType 'Obs"):
        patient_record_from_fhir({"resourceType": "Observation", "id": "o1"})


@pytest.mark.parametrize("patient_id", [None, "", "  ", 42])
def test_patient_without_id_is_refused(patient_id):
    with pytest.raises(ValueError, match="has no id"):
        patient_record_from_fhir({"resourceType": "Patient", "id": patient_id})


@pytest.mark.parametrize(
    ("file_name", "patient_id", "family", "given", "birth_date"),
    [
        (
            "Alejandro_Riojas_a9fcc685-c7a2-4474-bf25-26c8fe4b48f9.json",
            "829bb06a-42b9-433d-a8f6-560727c63da9",
            "Riojas",
            "Alejandro",
            date(1963, 10, 5),
        ),
        (
            "Alfreda_Wyman_3287b938-4670-47eb-91e5-e0ce3df71405.json",
            "6d23a95e-7e18-4201-90ec-9501fa89fbd2",
            "Wyman",
            "Alfreda",
            date(1980, 10, 28),
        ),
        (
            "Marcos_Delagarza_4acb6705-25a7-430a-b799-a4ad8d7fbb38.json",
            "963dabe4-84e7-4751-b432-e34bdbdbde05",
            "Delagarza",
            "Marcos",
            date(1992, 9, 20),
        ),
        (
            "Royal_DuBuque_6d750ddc-ee20-40df-bf83-30461dc641e4.json",
            "f1f26587-7199-4c0f-880d-d9cd0799ac15",
            "DuBuque",
            "Royal",
            date(1997, 6, 27),
        ),
    ],
)
def test_real_synthea_patients(file_name, patient_id, family, given, birth_date):
    record = patient_record_from_fhir(synthea_patient(file_name))
    assert record == PatientRecord(patient_id, family, (given,), birth_date)
    # How the same person appears on documents: Synthea digits, honorific, one string, upper case.
    for variant in (
        HumanName(family=f"{family}927", given=[f"{given}190"]),
        HumanName(family=f"Mr. {family.upper()}, {given}"),
    ):
        assert name_similarity(variant, record) >= 80.0
    assert name_similarity(HumanName(family="Garcia", given=["Maria"]), record) < 80.0
