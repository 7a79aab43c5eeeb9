"""Reading patient records from FHIR R4 Patient resources, including real Synthea ones."""

import pytest

from domain.identity import judge_name
from domain.patients import PatientRecord, RecordName, patient_record_from_fhir
from schemas import FhirDate, HumanName

from ._synthea import synthea_patient


def name_matches(name: HumanName, record: PatientRecord) -> bool:
    verdict = judge_name(name, record, None, threshold=80.0, typo_min_length=5)
    return verdict is not None and verdict.matches


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
    assert record == PatientRecord(
        "p1",
        "Wyman",
        ("Alfreda", "M"),
        FhirDate(1980, 10, 28),
        (RecordName("Deckow", ("Alfreda",), "maiden"),),
    )


def test_first_name_without_official_and_no_birth_date():
    resource = {
        "resourceType": "Patient",
        "id": "p1",
        "name": [{"family": "Kris"}, {"family": "X"}],
    }
    assert patient_record_from_fhir(resource) == PatientRecord(
        "p1", "Kris", (), None, (RecordName("X", ()),)
    )


def test_every_other_name_is_kept_once_with_its_use():
    resource = {
        "resourceType": "Patient",
        "id": "p1",
        "name": [
            {"use": "usual", "family": "Conn", "given": ["Liz"]},
            {"use": "official", "family": "Conn", "given": ["Elizabeth"]},
            {"use": "nickname", "given": ["Lizzie"]},
            {"use": "old", "family": "Rowe", "given": ["Elizabeth"]},
            {"use": "maiden", "family": "Rowe", "given": ["Elizabeth"]},  # the same spelling
            {"use": "anonymous"},
        ],
    }
    record = patient_record_from_fhir(resource)
    assert (record.family, record.given) == ("Conn", ("Elizabeth",))
    assert record.other_names == (
        RecordName("Conn", ("Liz",), "usual"),
        RecordName(None, ("Lizzie",), "nickname"),
        RecordName("Rowe", ("Elizabeth",), "old"),
    )


def test_no_name_at_all():
    assert patient_record_from_fhir({"resourceType": "Patient", "id": "p1"}).family is None


def test_text_only_name_is_kept_as_one_string():
    resource = {"resourceType": "Patient", "id": "p1", "name": [{"text": "John Q Smith"}]}
    record = patient_record_from_fhir(resource)
    assert (record.family, record.given) == ("John Q Smith", ())


@pytest.mark.parametrize(
    ("birth_date", "kept"),
    [
        ("1970", FhirDate(1970)),
        ("1970-04", FhirDate(1970, 4)),
        ("1970-04-03", FhirDate(1970, 4, 3)),
        ("1970-04-03T00:00:00Z", FhirDate(1970, 4, 3)),  # not FHIR, but some exports write it
    ],
)
def test_partial_birth_date_is_kept(birth_date, kept):
    resource = {"resourceType": "Patient", "id": "p1", "birthDate": birth_date}
    assert patient_record_from_fhir(resource).birth_date == kept


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
    ("sample", "patient_id", "family", "given", "birth_date", "maiden"),
    [
        (
            "Alejandro_Riojas",
            "829bb06a-42b9-433d-a8f6-560727c63da9",
            "Riojas",
            "Alejandro",
            FhirDate(1963, 10, 5),
            None,
        ),
        (
            "Alfreda_Wyman",
            "6d23a95e-7e18-4201-90ec-9501fa89fbd2",
            "Wyman",
            "Alfreda",
            FhirDate(1980, 10, 28),
            "Deckow",
        ),
        (
            "Marcos_Delagarza",
            "963dabe4-84e7-4751-b432-e34bdbdbde05",
            "Delagarza",
            "Marcos",
            FhirDate(1992, 9, 20),
            None,
        ),
        (
            "Royal_DuBuque",
            "f1f26587-7199-4c0f-880d-d9cd0799ac15",
            "DuBuque",
            "Royal",
            FhirDate(1997, 6, 27),
            None,
        ),
    ],
)
def test_real_synthea_patients(sample, patient_id, family, given, birth_date, maiden):
    record = patient_record_from_fhir(synthea_patient(sample))
    others = (RecordName(maiden, (given,), "maiden"),) if maiden else ()
    assert record == PatientRecord(patient_id, family, (given,), birth_date, others)
    # How the same person appears on documents: Synthea digits, honorific, one string, upper case.
    for variant in (
        HumanName(family=f"{family}927", given=[f"{given}190"]),
        HumanName(family=f"Mr. {family.upper()}, {given}"),
    ):
        assert name_matches(variant, record)
    assert not name_matches(HumanName(family="Garcia", given=["Maria"]), record)
