"""The seven flag rules of SPEC.md, at and around their thresholds, and their reviewer texts."""

from datetime import UTC, date, datetime
from typing import Any

import pytest

from domain import flag_rules
from domain.flag_rules import evaluate, review_status_for
from domain.names import NameComparison
from domain.patients import PatientRecord
from domain.thresholds import RuleThresholds
from schemas import ExtractionResult, FlagRule, ReviewStatus

RECORD = PatientRecord("p1", "Smith", ("John", "Quincy"), date(1970, 4, 3))
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


def test_birth_date_year_typo_just_differs():
    [reason] = evaluate(with_patient("Smith", ["John"], "1907-04-03"), RECORD, DEFAULTS)
    assert reason.text == "Birth date on the document 1907-04-03 differs from the record 1970-04-03"


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


@pytest.mark.parametrize(("score", "fires"), [(79.99, True), (80.0, False), (80.01, False)])
def test_name_similarity_boundary(monkeypatch, score, fires):
    comparison = NameComparison(score, score, 100.0)
    monkeypatch.setattr(flag_rules, "compare_names", lambda document, record: comparison)
    assert (FlagRule.NAME_MISMATCH in rules_fired(extraction())) is fires


def test_name_similarity_exactly_at_configured_threshold_passes():
    result = with_patient("Smith", ["Jhon"], "1970-04-03")  # scores 75.0
    assert evaluate(result, RECORD, RuleThresholds(name_similarity_min=75.0)) == []
    assert rules_fired(result) == [FlagRule.NAME_MISMATCH]


def test_document_without_name_does_not_fire_name_rule():
    assert evaluate(extraction(patient={"birth_date": "1970-04-03"}), RECORD, DEFAULTS) == []


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
