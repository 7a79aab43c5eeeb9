"""Rule sets: thresholds per version and per model, `--set` assignments checked like settings."""

from datetime import UTC, datetime

import pytest

from domain.patients import PatientRecord
from domain.rule_sets import (
    AssignmentError,
    RuleSet,
    describe,
    differences,
    settings_rule_set,
    with_assignments,
)
from domain.thresholds import RuleThresholds
from schemas import ExtractionResult, FhirDate, FlagRule

RECORD = PatientRecord("p1", "Smith", ("John",), FhirDate(1970, 4, 3))


def extraction(model: str, confidence: float) -> ExtractionResult:
    return ExtractionResult.model_validate(
        {
            "document_id": "d1",
            "patient_id": "p1",
            "uploaded_at": datetime(2026, 11, 22, tzinfo=UTC),
            "extracted_at": datetime(2026, 11, 22, tzinfo=UTC),
            "model": {"name": model},
            "confidence": confidence,
            "patient": {"name": {"family": "Smith", "given": ["John"]}},
            "resources": [{"resourceType": "Condition"}] * 3,
        }
    )


def test_assignments_change_only_what_they_name():
    changed = with_assignments(RuleThresholds(), ["min_confidence=0.75", "few-resources-count=2"])
    assert (changed.min_confidence, changed.few_resources_count) == (0.75, 2)
    assert differences(RuleThresholds(), changed) == {
        "min_confidence": (0.80, 0.75),
        "few_resources_count": (3, 2),
    }
    assert "min_confidence=0.75" in describe(changed)


@pytest.mark.parametrize(
    ("assignment", "says"),
    [
        ("min_confidence", "NAME=VALUE"),
        ("confidence=0.7", "unknown threshold 'confidence'"),
        ("min_confidence=1.5", "min_confidence: Input should be less than or equal to 1"),
        ("few_resources_count=many", "few_resources_count: Input should be a valid integer"),
    ],
)
def test_a_bad_assignment_says_what_is_wrong(assignment, says):
    with pytest.raises(AssignmentError, match=says):
        with_assignments(RuleThresholds(), [assignment])


def test_a_model_with_thresholds_of_its_own_is_judged_by_them():
    rule_set = RuleSet(3, RuleThresholds(), {"extractor-small": RuleThresholds(min_confidence=0.9)})
    assert rule_set.judge(extraction("extractor-large", 0.85), RECORD) == []
    [reason] = rule_set.judge(extraction("extractor-small", 0.85), RECORD)
    assert reason.rule == FlagRule.LOW_CONFIDENCE
    assert settings_rule_set(RuleThresholds()).version == 0
