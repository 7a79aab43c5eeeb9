"""The legacy mapping (seed R5): every status, reviewer or not, unknown and malformed records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from domain.legacy import (
    GENERIC_RULE,
    UNRECORDED_MODEL,
    LegacyMapping,
    Unmapped,
    flag_reasons_from_text,
    legacy_audit_entry,
    map_legacy,
    mark_duplicates,
    plan_legacy_resources,
)
from domain.merge_plan import plan_merge
from schemas import FlagRule, ProcessingStatus, ReviewStatus
from schemas.legacy import LegacyRecord

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def record(**overrides: Any) -> dict[str, Any]:
    values = {
        "document_id": 1001,
        "patient_id": "p-1",
        "review_status": "approved",
        "created_at": "2025-06-02T09:14:00Z",
        "confidence": 0.93,
        "model": "claude-3-sonnet",
        "fhir_resources": [
            {"resourceType": "Encounter", "id": "enc-1", "status": "finished"},
            {
                "resourceType": "Condition",
                "code": {"text": "Asthma"},
                "encounter": {"reference": "Encounter/enc-1"},
            },
        ],
    }
    values.update(overrides)
    return values


def mapped(**overrides: Any) -> LegacyMapping:
    result = map_legacy(record(**overrides), where="line 1")
    assert isinstance(result, LegacyMapping), result
    return result


def unmapped(raw: object) -> Unmapped:
    result = map_legacy(raw, where="line 7")
    assert isinstance(result, Unmapped), result
    return result


@pytest.mark.parametrize(
    ("fields", "status", "merged", "processing"),
    [
        ({"review_status": "approved"}, "auto_approved", True, "COMPLETE"),
        ({"review_status": "approved", "reviewed_by": "ana"}, "reviewed", True, "COMPLETE"),
        ({"review_status": "approved", "reviewer": "ana"}, "reviewed", True, "COMPLETE"),
        ({"review_status": "approved", "reviewed_by": 42}, "reviewed", True, "COMPLETE"),
        ({"review_status": "approved", "reviewed_by": "  "}, "auto_approved", True, "COMPLETE"),
        ({"review_status": "approved", "reviewed_by": None}, "auto_approved", True, "COMPLETE"),
        ({"review_status": "pending"}, "pending", False, "PENDING"),
        ({"review_status": "pending", "reviewed_by": "ana"}, "pending", False, "PENDING"),
        ({"review_status": "rejected", "reviewed_by": "ana"}, "rejected", False, "COMPLETE"),
        ({"review_status": "rejected"}, "rejected", False, "COMPLETE"),
        (
            {"review_status": "flagged", "flag_reason": "low confidence"},
            "flagged",
            True,
            "COMPLETE",
        ),
        ({"review_status": "flagged", "reviewed_by": "ana"}, "flagged", True, "COMPLETE"),
    ],
)
def test_every_legacy_status(
    fields: dict[str, Any], status: str, merged: bool, processing: str
) -> None:
    m = mapped(**fields)
    assert m.review_status == ReviewStatus(status)
    assert m.is_merged is merged
    assert m.processing_status == ProcessingStatus(processing)
    assert m.old_status == fields["review_status"]


@pytest.mark.parametrize("status", ["archived", "Approved", "APPROVED", "auto_approved", "", "7"])
def test_unknown_status_is_reported_not_guessed(status: str) -> None:
    u = unmapped(record(review_status=status))
    assert u.reason == f"unknown status {status!r}"
    assert (u.where, u.document_id, u.old_status) == ("line 7", "1001", status)


def test_unknown_status_is_reported_before_validation_errors() -> None:
    u = unmapped(record(review_status="archived", confidence=93, patient_id=None))
    assert u.reason == "unknown status 'archived'"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (record(confidence=93), "confidence: Input should be less than or equal to 1"),
        ({k: v for k, v in record().items() if k != "patient_id"}, "patient_id: Field required"),
        ({k: v for k, v in record().items() if k != "confidence"}, "confidence: Field required"),
        (record(created_at="2025-06-02T09:14:00"), "created_at: Input should have timezone info"),
        (record(review_status=None), "review_status: Input should be a valid string"),
        (record(fhir_resources=[{"code": {}}]), "resources[0] has no resourceType"),
        (record(fhir_resources={"resourceType": "Bundle"}), "fhir_resources: Input should be"),
        (record(reviewed_by="ana", reviewer="bob"), "'ana' and reviewer 'bob' disagree"),
        ([1, 2], "Input should be a valid dictionary"),
        ("approved", "Input should be a valid dictionary"),
    ],
)
def test_malformed_records_are_unmapped_with_the_validation_error(
    raw: object, expected: str
) -> None:
    u = unmapped(raw)
    assert u.reason.startswith("invalid record: ")
    assert expected in u.reason
    assert "\n" not in u.reason  # one line per record in the report


def test_both_reviewer_spellings_agreeing_are_accepted() -> None:
    assert mapped(reviewed_by="ana", reviewer="ana").record.reviewed_by == "ana"


@pytest.mark.parametrize(
    ("text", "rules"),
    [
        ("Extraction confidence 0.72 is below 0.80", ["low_confidence"]),
        ("Fallback model used", ["fallback_model"]),
        ("Zero resources extracted", ["no_resources"]),
        ("No FHIR resources found", ["no_resources"]),
        ("Fewer than 3 resources and confidence 0.90 < 0.95", ["few_resources_low_confidence"]),
        ("Confidence 0.90 with 2 resources", ["low_confidence"]),
        ("DOB mismatch: 1970-04-03 vs 1970-03-04", ["birth_date_conflict"]),
        ("Date of birth conflict", ["birth_date_conflict"]),
        ("Patient name mismatch (71%)", ["name_mismatch"]),
        ("Unknown patient", ["unknown_patient"]),
        ("No patient record for this id", ["unknown_patient"]),
        ("Merge failed: timeout", ["merge_error"]),
        (
            "Fallback model used; DOB conflict\nname mismatch",
            ["fallback_model", "birth_date_conflict", "name_mismatch"],
        ),
        ("", []),
        (" ; \n", []),
    ],
)
def test_flag_reason_text_names_its_rule(text: str, rules: list[str]) -> None:
    reasons, generic = flag_reasons_from_text(text)
    assert [r.rule.value for r in reasons] == rules
    assert generic == 0


def test_flag_reason_naming_no_rule_is_kept_verbatim_under_the_generic_rule() -> None:
    reasons, generic = flag_reasons_from_text("Handwritten addendum; Fallback model used")
    assert [(r.rule, r.text) for r in reasons] == [
        (GENERIC_RULE, "Legacy flag: Handwritten addendum"),
        (FlagRule.FALLBACK_MODEL, "Fallback model used"),
    ]
    assert generic == 1


def test_flagged_without_a_reason_says_none_was_recorded() -> None:
    m = mapped(review_status="flagged")
    assert [r.text for r in m.flag_reasons] == ["Legacy flag: no reason was recorded"]
    assert m.generic_flag_reasons == 1


def test_auto_approved_keeps_no_flag_reasons_but_the_stored_record_keeps_the_text() -> None:
    m = mapped(review_status="approved", flag_reason="confidence 0.7")
    assert m.review_status == ReviewStatus.AUTO_APPROVED and m.flag_reasons == ()
    assert m.extraction.model_dump()["legacy"]["flag_reason"] == "confidence 0.7"


def test_reviewed_and_rejected_keep_their_flag_reasons() -> None:
    for status in ("approved", "rejected"):
        m = mapped(review_status=status, reviewed_by="ana", flag_reason="DOB conflict")
        assert [r.rule for r in m.flag_reasons] == [FlagRule.BIRTH_DATE_CONFLICT]


def test_fallback_reason_marks_the_model_as_fallback() -> None:
    assert mapped(
        review_status="flagged", flag_reason="Fallback model"
    ).extraction.model.is_fallback
    assert not mapped(
        review_status="flagged", flag_reason="low confidence"
    ).extraction.model.is_fallback


def test_extraction_keeps_every_exported_field_and_is_deterministic() -> None:
    m = mapped(parsed_data_id=501, uploaded_at="2025-06-01T08:00:00Z", model=None)
    dumped = m.extraction.model_dump(mode="json")
    assert dumped["legacy"]["parsed_data_id"] == 501
    assert "fhir_resources" not in dumped["legacy"]  # stored once, as `resources`
    assert dumped["uploaded_at"] == "2025-06-01T08:00:00Z"
    assert dumped["extracted_at"] == "2025-06-02T09:14:00Z"
    assert dumped["model"]["name"] == UNRECORDED_MODEL
    assert dumped["document_id"] == "1001" and dumped["extraction_version"] == 1
    assert mapped().extraction.event_id == mapped().extraction.event_id


def test_merged_resources_are_planned_exactly_as_a_merge_would_plan_them() -> None:
    m = mapped(reviewed_by="ana")
    changes = plan_legacy_resources(m, NOW)
    merge = plan_merge(m.extraction, None, m.flag_reasons, NOW).changes
    assert merge is not None and changes.inserts == merge.inserts
    encounter, condition = (w.body for w in changes.inserts)
    assert encounter["meta"]["source"] == "document_1001"
    # Links between the document's own resources point at the stored ids.
    assert condition["encounter"]["reference"] == f"Encounter/{encounter['id']}"


@pytest.mark.parametrize("status", ["pending", "rejected"])
def test_unmerged_documents_store_no_resources(status: str) -> None:
    changes = plan_legacy_resources(mapped(review_status=status), NOW)
    assert changes.inserts == [] and changes.superseded == []


def test_audit_entry_names_old_and_new_status_and_resource_counts() -> None:
    m = mapped(review_status="rejected", reviewed_by="ana", reviewed_at="2025-06-03T10:00:00Z")
    entry = legacy_audit_entry(m, plan_legacy_resources(m, NOW), actor="ops", now=NOW)
    assert (entry.action, entry.actor_kind, entry.actor) == ("legacy_import", "operator", "ops")
    assert entry.details["legacy_status"] == "rejected"
    assert entry.details["review_status"] == "rejected"
    assert entry.details["resources"] == {}
    assert entry.details["resources_in_record"] == {"Condition": 1, "Encounter": 1}
    assert entry.details["legacy_reviewed_at"] == "2025-06-03T10:00:00+00:00"
    assert entry.details["source"] == "line 1"


def test_duplicate_document_ids_in_one_export_are_reported() -> None:
    first = map_legacy(record(), where="line 1")
    second = map_legacy(record(confidence=0.5), where="line 9")
    other = map_legacy(record(document_id=2), where="line 10")
    bad = map_legacy(record(review_status="archived"), where="line 11")
    out = list(mark_duplicates([first, second, other, bad]))
    assert out[0] is first and out[2] is other and out[3] is bad
    assert isinstance(out[1], Unmapped)
    assert out[1].reason == "duplicate document_id '1001' (first at line 1)"
    assert out[1].where == "line 9"


def test_a_validated_record_maps_too() -> None:
    rec = LegacyRecord.model_validate(record(review_status="flagged", flag_reason="fallback"))
    result = map_legacy(rec)
    assert isinstance(result, LegacyMapping) and result.record is rec
