"""Property tests (issue 12): the flag rules and the planners never raise on a valid event,
whatever names, dates, resources and stored state it meets."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.flag_rules import evaluate
from domain.merge_plan import StoredDocument, StoredResource, plan_merge
from domain.patients import patient_record_from_fhir
from domain.review_plan import plan_review
from domain.thresholds import RuleThresholds
from schemas import ExtractionResult, ProcessingStatus, ReviewAction, ReviewStatus
from schemas.fhir_types import NOT_FROM_DOCUMENTS, R4_RESOURCE_TYPES

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TYPES = sorted(R4_RESOURCE_TYPES - NOT_FROM_DOCUMENTS)
SETTINGS = settings(max_examples=200, deadline=None, database=None)

text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=30)
dates = st.one_of(
    st.none(),
    st.dates().map(lambda d: d.isoformat()),
    st.integers(1, 9999).map(lambda y: f"{y:04d}"),
)
resource = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(TYPES)},
    optional={
        "id": text,
        "subject": st.fixed_dictionaries({"reference": text}),
        "code": st.fixed_dictionaries({"text": text}),
        "valueQuantity": st.fixed_dictionaries(
            {"value": st.decimals(allow_nan=False, allow_infinity=False, places=3)}
        ),
    },
)
extractions = st.builds(
    lambda doc, given, family, birth, resources, confidence, fallback, version: {
        "document_id": doc,
        "patient_id": "p-1",
        "extraction_version": version,
        "uploaded_at": "2026-11-22T10:00:00Z",
        "extracted_at": "2026-11-22T10:00:05+02:00",
        "model": {"name": "m", "is_fallback": fallback},
        "confidence": confidence,
        "patient": {"name": {"family": family, "given": given}, "birth_date": birth},
        "resources": resources,
    },
    st.text(min_size=1, max_size=20).filter(str.strip),
    st.lists(text, max_size=3),
    st.one_of(st.none(), text),
    dates,
    st.lists(resource, max_size=6),
    st.floats(0, 1),
    st.booleans(),
    st.integers(1, 2**31 - 1),
)
records = st.one_of(
    st.none(),
    st.builds(
        lambda family, given, birth: patient_record_from_fhir(
            {
                "resourceType": "Patient",
                "id": "p-1",
                "name": [{"family": family, "given": given}],
                **({"birthDate": birth} if birth else {}),
            }
        ),
        text,
        st.lists(text, max_size=3),
        dates,
    ),
)


def stored_of(result: ExtractionResult, status: ReviewStatus, merged: bool) -> StoredDocument:
    return StoredDocument(
        document_id=result.document_id,
        patient_id=result.patient_id,
        extraction_version=1,
        version=3,
        review_status=status,
        processing_status=ProcessingStatus.COMPLETE if merged else ProcessingStatus.FAILED,
        is_merged=merged,
        resources=(StoredResource("r-1", "Condition", 2, {"resourceType": "Condition"}),),
    )


@SETTINGS
@given(extractions, records, st.sampled_from(list(ReviewStatus)), st.booleans())
def test_rules_and_merge_planning_never_raise(data, record, status, merged):
    result = ExtractionResult.model_validate(data)
    reasons = evaluate(result, record, RuleThresholds())
    plan_merge(result, None, reasons, NOW)
    plan_merge(result, stored_of(result, status, merged), reasons, NOW)


@SETTINGS
@given(
    extractions,
    st.sampled_from(["mark_correct", "correct_data", "rollback"]),
    st.integers(0, 5),
    st.one_of(st.none(), st.lists(resource, max_size=4)),
    st.sampled_from(list(ReviewStatus)),
    st.booleans(),
)
def test_review_planning_never_raises(data, kind, version, corrected, status, merged):
    result = ExtractionResult.model_validate(data)
    action = ReviewAction(
        document_id=result.document_id,
        patient_id="p-1",
        action=kind,
        reviewer="ana",
        expected_version=version,
        corrected_resources=corrected,
    )
    plan_review(action, None, NOW)
    plan_review(action, stored_of(result, status, merged), NOW)
