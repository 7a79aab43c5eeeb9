"""The verify page's view: the evidence under identity reasons, and a partial record birth date."""

from datetime import UTC, datetime

from domain.flag_rules import evaluate
from domain.patients import patient_record_from_fhir
from domain.thresholds import RuleThresholds
from schemas import ExtractionResult
from webapp.verify_view import EvidenceRow, VerifyData, verify_view

from ._views import document_view

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "gender": "male",
    "name": [{"use": "official", "family": "Riojas", "given": ["Alejandro"]}],
    "birthDate": "1963-10",
}


def data(given: str, birth_date: str, patient: dict[str, object] = PATIENT) -> VerifyData:
    """A document for Riojas, flagged by the real rules, its reasons stored as JSON as storage
    stores them; the patient row has no birth_date column for a partial birthDate."""
    result = ExtractionResult.model_validate(
        {
            "document_id": "d1",
            "patient_id": "p1",
            "uploaded_at": NOW,
            "extracted_at": NOW,
            "model": {"name": "extractor-large"},
            "confidence": 0.97,
            "patient": {
                "name": {"family": "Riojas", "given": [given]},
                "birth_date": birth_date,
            },
            "resources": [{"resourceType": "Condition"}] * 3,
        }
    )
    reasons = evaluate(result, patient_record_from_fhir(patient), RuleThresholds())
    state = document_view(
        patient_id="p1", flag_reasons=[r.model_dump(mode="json") for r in reasons]
    )
    row = {"patient_id": "p1", "record": patient, "family": "Riojas", "given": ["Alejandro"]}
    return VerifyData(state, result.model_dump(mode="json"), [], row, [], None, None)


def test_name_reason_shows_how_each_part_compares():
    view = verify_view(data("Alejandra", "1963-10"))
    assert [r.rule for r in view.reasons] == ["name_mismatch"]
    assert view.evidence == {
        "name_mismatch": [
            EvidenceRow("Family name", "Riojas", "Riojas", "same", "ok", "100 %", None),
            EvidenceRow(
                "Given name",
                "Alejandra",
                "Alejandro",
                "similar",
                "warn",
                "89 %",
                "another name: the ending differs; same family name and birth date: "
                "a sibling or a twin?",
            ),
            EvidenceRow(
                "Birth date",
                "1963-10",
                "1963-10",
                "same",
                "ok",
                None,
                None,
            ),
        ]
    }


def test_birth_date_reason_has_its_evidence_and_a_partial_record_date_is_shown():
    view = verify_view(data("Alejandro", "1964-10-05"))
    assert [r.rule for r in view.reasons] == ["birth_date_conflict"]
    assert view.evidence == {
        "birth_date_conflict": [
            EvidenceRow(
                "Birth date",
                "1964-10-05",
                "1963-10",
                "different",
                "identity",
                None,
                "the year differs; the record gives the year and month only",
            )
        ]
    }
    assert view.demographics.birth_record == "1963-10"
