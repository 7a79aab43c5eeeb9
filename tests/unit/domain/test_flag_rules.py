"""The flag rules of SPEC.md, at and around their thresholds, and their reviewer texts."""

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.flag_rules import RULES, evaluate, review_status_for
from domain.patients import PatientRecord, RecordName
from domain.thresholds import RuleThresholds
from schemas import Evidence, ExtractionResult, FhirDate, FlagRule, MatchKind, ReviewStatus

RECORD = PatientRecord("p1", "Smith", ("John", "Quincy"), FhirDate(1970, 4, 3))
DEFAULTS = RuleThresholds()
CONDITION = {"resourceType": "Condition", "code": {"text": "Hypertension"}}


def extraction(**overrides: Any) -> ExtractionResult:
    """A document nothing is wrong with, unless the test says otherwise."""
    fields: dict[str, Any] = {
        "document_id": "doc-1",
        "patient_id": "p1",
        "uploaded_at": datetime(2026, 11, 22, 10, tzinfo=UTC),
        "extracted_at": datetime(2026, 11, 22, 10, 0, 5, tzinfo=UTC),
        "model": {"name": "extractor-large", "version": "2026.10", "is_fallback": False},
        "confidence": 0.97,
        "patient": {"name": {"family": "Smith", "given": ["John"]}, "birth_date": "1970-04-03"},
        "resources": [CONDITION] * 3,
    }
    return ExtractionResult.model_validate(fields | overrides)


def rules_fired(result: ExtractionResult, record: PatientRecord | None = RECORD) -> list[FlagRule]:
    return [reason.rule for reason in evaluate(result, record, DEFAULTS)]


def test_clean_document_is_auto_approved():
    reasons = evaluate(extraction(), RECORD, DEFAULTS)
    assert reasons == []
    assert review_status_for(reasons) == ReviewStatus.AUTO_APPROVED


@pytest.mark.parametrize(("confidence", "fires"), [(0.7999, True), (0.80, False), (0.8001, False)])
def test_low_confidence_boundary(confidence, fires):
    result = extraction(confidence=confidence, resources=[CONDITION] * 5)
    assert (FlagRule.LOW_CONFIDENCE in rules_fired(result)) is fires


def test_low_confidence_text_and_configured_threshold():
    [reason] = evaluate(extraction(confidence=0.72), RECORD, DEFAULTS)
    assert reason.text == "Extraction confidence 0.72 is below the 0.80 threshold"
    assert evaluate(extraction(confidence=0.7999), RECORD, DEFAULTS)[0].text == (
        "Extraction confidence 0.7999 is below the 0.80 threshold"
    )
    lenient = RuleThresholds(min_confidence=0.7, few_resources_count=0)
    assert evaluate(extraction(confidence=0.72), RECORD, lenient) == []


def test_fallback_model():
    model = {"name": "extractor-small", "version": "2026.09", "is_fallback": True}
    [reason] = evaluate(extraction(model=model), RECORD, DEFAULTS)
    assert (reason.rule, reason.text) == (
        FlagRule.FALLBACK_MODEL,
        "Fallback model extractor-small 2026.09 was used",
    )


@pytest.mark.parametrize(
    ("count", "confidence", "fires"),
    [(2, 0.9499, True), (2, 0.95, False), (2, 0.9501, False), (3, 0.9499, False), (1, 0.9, True)],
)
def test_few_resources_boundary(count, confidence, fires):
    result = extraction(confidence=confidence, resources=[CONDITION] * count)
    assert (FlagRule.FEW_RESOURCES_LOW_CONFIDENCE in rules_fired(result)) is fires


def test_few_resources_text():
    [reason] = evaluate(extraction(confidence=0.9, resources=[CONDITION] * 2), RECORD, DEFAULTS)
    assert reason.text == (
        "Only 2 resources extracted (fewer than 3) with confidence 0.90, "
        "below the 0.95 required for so few"
    )


def test_zero_resources_fires_both_resource_rules_when_confidence_is_low():
    assert rules_fired(extraction(confidence=0.9, resources=[])) == [
        FlagRule.NO_RESOURCES,
        FlagRule.FEW_RESOURCES_LOW_CONFIDENCE,
    ]
    # Confident but empty: only "no resources".
    assert rules_fired(extraction(confidence=0.99, resources=[])) == [FlagRule.NO_RESOURCES]
    [reason] = evaluate(extraction(confidence=0.99, resources=[]), RECORD, DEFAULTS)
    assert reason.text == "No resources were extracted from the document"


def with_patient(family: str, given: list[str], birth_date: str | None) -> ExtractionResult:
    name = {"family": family, "given": given}
    return extraction(patient={"name": name, "birth_date": birth_date})


def test_birth_date_day_and_month_swapped():
    [reason] = evaluate(with_patient("Smith", ["John"], "1970-03-04"), RECORD, DEFAULTS)
    assert (reason.rule, reason.text) == (
        FlagRule.BIRTH_DATE_CONFLICT,
        "Birth date on the document 1970-03-04 differs from the record 1970-04-03: "
        "day and month look swapped",
    )


def test_birth_date_year_digits_transposed():
    [reason] = evaluate(with_patient("Smith", ["John"], "1907-04-03"), RECORD, DEFAULTS)
    assert reason.text == (
        "Birth date on the document 1907-04-03 differs from the record 1970-04-03: "
        "year digits look transposed (1907 vs 1970)"
    )
    assert reason.evidence == (
        Evidence(
            part="birth_date",
            document="1907-04-03",
            record="1970-04-03",
            how=MatchKind.TRANSPOSED,
            detail="year digits look transposed (1907 vs 1970)",
        ),
    )


def test_birth_date_other_year():
    [reason] = evaluate(with_patient("Smith", ["John"], "1971-04-03"), RECORD, DEFAULTS)
    assert reason.text.endswith(": the year differs")


@pytest.mark.parametrize(("on_document", "fires"), [("1970", False), ("1970-04", False)])
def test_partial_birth_date_on_the_document_agrees_as_far_as_it_goes(on_document, fires):
    result = with_patient("Smith", ["John"], on_document)
    assert (FlagRule.BIRTH_DATE_CONFLICT in rules_fired(result)) is fires


def test_partial_birth_date_conflicts_in_the_parts_it_gives():
    [reason] = evaluate(with_patient("Smith", ["John"], "1970-05"), RECORD, DEFAULTS)
    assert reason.text == (
        "Birth date on the document 1970-05 differs from the record 1970-04-03: the month "
        "differs; the document gives the year and month only"
    )


def test_partial_birth_date_in_the_record():
    record = PatientRecord("p1", "Smith", ("John",), FhirDate(1970))
    assert evaluate(with_patient("Smith", ["John"], "1970-04-03"), record, DEFAULTS) == []
    assert rules_fired(with_patient("Smith", ["John"], "1971-04-03"), record) == [
        FlagRule.BIRTH_DATE_CONFLICT
    ]


def test_birth_date_unknown_on_either_side_does_not_fire():
    assert evaluate(with_patient("Smith", ["John"], None), RECORD, DEFAULTS) == []
    no_birth_date = PatientRecord("p1", "Smith", ("John",), None)
    assert evaluate(with_patient("Smith", ["John"], "1907-04-03"), no_birth_date, DEFAULTS) == []


def test_name_mismatch_text():
    [reason] = evaluate(with_patient("Smith", ["Jhon"], "1970-04-03"), RECORD, DEFAULTS)
    assert (reason.rule, reason.text) == (
        FlagRule.NAME_MISMATCH,
        "Name on the document 'Jhon Smith' matches the record 'John Quincy Smith' at 75 % "
        "(threshold 80 %): the first given names differ",
    )
    assert [(e.part, e.how) for e in reason.evidence] == [
        ("family", MatchKind.EXACT),
        ("given", MatchKind.DIFFERENT),
    ]


@pytest.mark.parametrize(
    ("given", "fires"), [(["Jhon"], True), (["Jhonn"], True), (["Jonh"], True), (["J0hn"], False)]
)
def test_name_similarity_boundary_and_ocr_slips(given, fires):
    # 75 % is below the threshold; an OCR slip (0/o) is forgiven as the rest agrees.
    result = with_patient("Smith", given, "1970-04-03")
    assert (FlagRule.NAME_MISMATCH in rules_fired(result)) is fires


def test_name_similarity_exactly_at_configured_threshold_passes():
    result = with_patient("Smith", ["Jhon"], "1970-04-03")  # scores 75.0
    assert evaluate(result, RECORD, RuleThresholds(name_similarity_min=75.0)) == []
    assert rules_fired(result) == [FlagRule.NAME_MISMATCH]


def test_typo_length_is_configuration():
    record = PatientRecord("p1", "Smith", ("Alejandro",), FhirDate(1963, 10, 5))
    result = with_patient("Smtih", ["Alejandro"], "1963-10-05")  # 80 %, forgiven as a typo
    assert evaluate(result, record, DEFAULTS) == []
    strict = RuleThresholds(name_similarity_min=85.0)
    assert evaluate(result, record, strict) == []
    too_short = RuleThresholds(name_similarity_min=85.0, name_typo_min_length=6)
    assert [r.rule for r in evaluate(result, record, too_short)] == [FlagRule.NAME_MISMATCH]


def test_sibling_is_flagged_with_its_evidence():
    record = PatientRecord("p1", "Riojas", ("Alejandro",), FhirDate(1963, 10, 5))
    [reason] = evaluate(with_patient("Riojas", ["Alejandra"], "1963-10-05"), record, DEFAULTS)
    assert reason.rule == FlagRule.NAME_MISMATCH
    assert reason.text.endswith(
        "but the first given names differ while the family name and birth date agree: "
        "a sibling or a twin?"
    )
    assert [(e.part, e.how) for e in reason.evidence] == [
        ("family", MatchKind.EXACT),
        ("given", MatchKind.SIMILAR),
        ("birth_date", MatchKind.EXACT),
    ]


def test_maiden_name_is_not_a_mismatch():
    record = PatientRecord(
        "p1",
        "Wyman",
        ("Alfreda",),
        FhirDate(1980, 10, 28),
        (RecordName("Deckow", ("Alfreda",), "maiden"),),
    )
    assert evaluate(with_patient("Deckow", ["Alfreda"], "1980-10-28"), record, DEFAULTS) == []


def test_document_without_name_does_not_fire_name_rule():
    assert evaluate(extraction(patient={"birth_date": "1970-04-03"}), RECORD, DEFAULTS) == []


def test_document_without_birth_date_does_not_fire_birth_date_rule():
    assert evaluate(extraction(patient={"name": {"family": "Smith"}}), RECORD, DEFAULTS) == []


@pytest.mark.parametrize(
    "patient",
    [{}, {"name": None, "birth_date": None}, {"name": {"family": " ", "given": ["Mr."]}}],
)
def test_no_identity_when_the_document_names_nobody(patient):
    [reason] = evaluate(extraction(patient=patient), RECORD, DEFAULTS)
    assert (reason.rule, reason.text) == (
        FlagRule.NO_IDENTITY,
        "The document names neither the patient nor a birth date: nothing on it shows that "
        "it belongs to patient p1",
    )
    assert reason.model_dump(mode="json") == {"rule": "no_identity", "text": reason.text}


def test_no_identity_for_an_unknown_patient_too():
    assert rules_fired(extraction(patient={}), record=None) == [
        FlagRule.UNKNOWN_PATIENT,
        FlagRule.NO_IDENTITY,
    ]


def test_unknown_patient_skips_birth_date_and_name():
    result = with_patient("Brown", ["Maria"], "1999-01-01")
    [reason] = evaluate(result, None, DEFAULTS)
    assert (reason.rule, reason.text) == (
        FlagRule.UNKNOWN_PATIENT,
        "No patient record exists for patient id p1",
    )


def test_every_rule_fires_together_in_spec_order():
    result = extraction(
        confidence=0.5,
        model={"name": "extractor-small", "is_fallback": True},
        resources=[],
        patient={"name": {"family": "Brown", "given": ["Maria"]}, "birth_date": "1970-03-04"},
    )
    reasons = evaluate(result, RECORD, DEFAULTS)
    assert [reason.rule for reason in reasons] == [
        FlagRule.LOW_CONFIDENCE,
        FlagRule.FALLBACK_MODEL,
        FlagRule.NO_RESOURCES,
        FlagRule.FEW_RESOURCES_LOW_CONFIDENCE,
        FlagRule.BIRTH_DATE_CONFLICT,
        FlagRule.NAME_MISMATCH,
    ]
    assert reasons[1].text == "Fallback model extractor-small was used"
    assert rules_fired(result, record=None)[3:] == [
        FlagRule.FEW_RESOURCES_LOW_CONFIDENCE,
        FlagRule.UNKNOWN_PATIENT,
    ]
    assert review_status_for(reasons) == ReviewStatus.FLAGGED


def test_rules_cover_every_code_in_the_documented_order():
    # merge_error and foreign_reference are decided with the database (by the merge service).
    worker_rules = (FlagRule.MERGE_ERROR, FlagRule.FOREIGN_REFERENCE)
    codes = [rule.value for rule in FlagRule if rule not in worker_rules]
    assert [rule.__name__ for rule in RULES] == codes
