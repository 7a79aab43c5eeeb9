"""Patient records as the merge reads them back: every name with its use, partial birth dates,
and the identity reasons stored with their evidence."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from domain.patients import PatientRecord, RecordName
from domain.thresholds import RuleThresholds
from pipeline.service import judge_with
from schemas import FhirDate, PatientDemographics
from storage.db import connect
from storage.documents import lock_patients
from storage.patients import import_patients
from storage.read import document_state

from ._factories import extraction, incoming, merge

ALFREDA = {
    "resourceType": "Patient",
    "id": "p-1",
    "name": [
        {"use": "official", "family": "Wyman", "given": ["Alfreda"], "prefix": ["Mrs."]},
        {"use": "maiden", "family": "Deckow", "given": ["Alfreda"], "prefix": ["Mrs."]},
    ],
    "birthDate": "1980-10",
}


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with connect(database_url) as c:
        import_patients(c, [ALFREDA])
        yield c


def test_the_locked_record_has_every_name_and_the_partial_birth_date(conn):
    # The birth_date column holds full dates only; the record keeps the partial one.
    assert conn.execute("SELECT birth_date FROM patients WHERE patient_id = 'p-1'").fetchone() == (
        None,
    )
    with conn.transaction(), conn.cursor() as cur:
        locked = lock_patients(cur, ["p-1", "p-unknown"])
    assert locked["p-1"].record == PatientRecord(
        "p-1",
        "Wyman",
        ("Alfreda",),
        FhirDate(1980, 10),
        (RecordName("Deckow", ("Alfreda",), "maiden"),),
    )
    assert locked["p-unknown"].record is None


def test_maiden_name_passes_and_the_birth_date_conflict_keeps_its_evidence(conn):
    def read_as(document_id: str, family: str, birth_date: str):
        result = extraction(document_id, "p-1")
        patient = {"name": {"family": family, "given": ["Alfreda"]}, "birth_date": birth_date}
        return result.model_copy(update={"patient": PatientDemographics.model_validate(patient)})

    merge(
        conn,
        [incoming(read_as("d1", "Deckow", "1980-10-28")), incoming(read_as("d2", "Wyman", "1981"))],
        judge_with(RuleThresholds()),
    )
    first, second = document_state(conn, "d1"), document_state(conn, "d2")
    assert first is not None and first.review_status == "auto_approved"
    assert second is not None and second.model_dump(mode="json")["flag_reasons"] == [
        {
            "rule": "birth_date_conflict",
            "text": "Birth date on the document 1981 differs from the record 1980-10: the year "
            "differs; the document gives the year only",
            "evidence": [
                {
                    "part": "birth_date",
                    "document": "1981",
                    "record": "1980-10",
                    "how": "different",
                    "score": None,
                    "detail": "the year differs; the document gives the year only",
                }
            ],
        }
    ]
