"""The pure merge planner: every merge rule of SPEC.md, without a database."""

from __future__ import annotations

from datetime import UTC, datetime

from domain.merge_plan import MergeOutcome, StoredDocument, StoredResource, plan_merge
from domain.resources import resource_ids_for
from schemas import ExtractionResult, FlagReason, FlagRule, ProcessingStatus, ReviewStatus

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def extraction(version: int = 1, resources: list[dict] | None = None) -> ExtractionResult:
    return ExtractionResult.model_validate(
        {
            "document_id": "doc-1",
            "patient_id": "p-1",
            "extraction_version": version,
            "uploaded_at": "2026-11-22T10:00:00Z",
            "extracted_at": "2026-11-22T10:00:05Z",
            "model": {"name": "extractor-large", "version": "2026.10"},
            "confidence": 0.93,
            "resources": resources
            if resources is not None
            else [
                {"resourceType": "Condition", "code": {"text": "Hypertension"}},
                {"resourceType": "Condition", "code": {"text": "Asthma"}},
                {"resourceType": "Observation", "code": {"text": "BP"}, "valueString": "120/80"},
            ],
        }
    )


def stored_from(decision_resources, *, version=1, extraction_version=1, **kw) -> StoredDocument:
    return StoredDocument(
        document_id="doc-1",
        patient_id="p-1",
        extraction_version=extraction_version,
        version=version,
        review_status=kw.get("review_status", ReviewStatus.AUTO_APPROVED),
        processing_status=kw.get("processing_status", ProcessingStatus.COMPLETE),
        is_merged=kw.get("is_merged", True),
        resources=tuple(
            StoredResource(w.resource_id, w.resource_type, w.version_id, w.body)
            for w in decision_resources
        ),
    )


def test_first_merge_inserts_every_resource_stamped_with_its_source():
    decision = plan_merge(extraction(), None, [], NOW)
    assert decision.outcome == MergeOutcome.MERGED
    assert decision.version == 1
    assert decision.review_status == ReviewStatus.AUTO_APPROVED
    assert decision.changes is not None
    bodies = [w.body for w in decision.changes.inserts]
    assert len(bodies) == 3
    assert {b["meta"]["source"] for b in bodies} == {"document_doc-1"}
    assert {b["meta"]["versionId"] for b in bodies} == {"1"}
    assert bodies[0]["meta"]["lastUpdated"] == "2026-11-23T12:00:00Z"


def test_resource_ids_are_deterministic_and_unique():
    resources = extraction().resources
    assert resource_ids_for("doc-1", resources) == resource_ids_for("doc-1", resources)
    assert len(set(resource_ids_for("doc-1", resources))) == 3
    assert set(resource_ids_for("doc-1", resources)).isdisjoint(
        resource_ids_for("doc-2", resources)
    )


def test_flag_reasons_make_the_document_flagged_but_still_merged():
    reason = FlagReason(rule=FlagRule.LOW_CONFIDENCE, text="low")
    decision = plan_merge(extraction(), None, [reason], NOW)
    assert decision.review_status == ReviewStatus.FLAGGED
    assert decision.writes
    assert decision.flag_reasons == (reason,)


def test_redelivered_same_version_is_a_no_op():
    first = plan_merge(extraction(), None, [], NOW)
    assert first.changes is not None
    stored = stored_from(first.changes.inserts)
    again = plan_merge(extraction(), stored, [], NOW)
    assert again.outcome == MergeOutcome.DUPLICATE
    assert not again.writes


def test_older_extraction_version_is_refused():
    first = plan_merge(extraction(2), None, [], NOW)
    assert first.changes is not None
    stored = stored_from(first.changes.inserts, extraction_version=2)
    older = plan_merge(extraction(1), stored, [], NOW)
    assert older.outcome == MergeOutcome.STALE
    assert "older" in older.reason


def test_newer_version_replaces_exactly_the_documents_previous_set():
    first = plan_merge(extraction(1), None, [], NOW)
    assert first.changes is not None
    stored = stored_from(first.changes.inserts)
    new = extraction(
        2,
        [
            {"resourceType": "Condition", "code": {"text": "Hypertension"}},  # unchanged
            {"resourceType": "Condition", "code": {"text": "COPD"}},  # same slot, new content
            {"resourceType": "MedicationRequest", "status": "active"},  # new
        ],
    )  # the Observation is gone
    decision = plan_merge(new, stored, [], NOW)
    assert decision.outcome == MergeOutcome.REMERGED
    assert decision.version == 2
    changes = decision.changes
    assert changes is not None
    assert changes.unchanged == 1
    assert [w.resource_type for w in changes.updates] == ["Condition"]
    assert changes.updates[0].version_id == 2
    assert [w.resource_type for w in changes.inserts] == ["MedicationRequest"]
    assert [r.resource_type for r in changes.deleted] == ["Observation"]


def test_rolled_back_document_stays_rolled_back_on_redelivery():
    stored = stored_from([], review_status=ReviewStatus.REJECTED, is_merged=False, version=3)
    decision = plan_merge(extraction(1), stored, [], NOW)
    assert decision.outcome == MergeOutcome.DUPLICATE
    newer = plan_merge(extraction(2), stored, [], NOW)
    assert newer.outcome == MergeOutcome.REMERGED
    assert newer.changes is not None and len(newer.changes.inserts) == 3


def test_resource_merged_again_after_rollback_continues_its_version():
    first = plan_merge(extraction(1), None, [], NOW)
    assert first.changes is not None
    retired = {w.resource_id: 1 for w in first.changes.inserts}
    stored = StoredDocument(
        "doc-1",
        "p-1",
        1,
        2,
        ReviewStatus.REJECTED,
        ProcessingStatus.COMPLETE,
        False,
        retired_versions=retired,
    )
    decision = plan_merge(extraction(2), stored, [], NOW)
    assert decision.changes is not None
    assert {w.version_id for w in decision.changes.inserts} == {2}


def test_failed_document_is_retried_with_the_same_version():
    stored = stored_from([], processing_status=ProcessingStatus.FAILED, is_merged=False)
    decision = plan_merge(extraction(1), stored, [], NOW)
    assert decision.outcome == MergeOutcome.REMERGED


def test_document_of_another_patient_is_refused():
    first = plan_merge(extraction(), None, [], NOW)
    assert first.changes is not None
    other = extraction(2).model_copy(update={"patient_id": "p-2"})
    decision = plan_merge(other, stored_from(first.changes.inserts), [], NOW)
    assert decision.outcome == MergeOutcome.STALE
    assert "belongs to patient p-1" in decision.reason


def test_links_between_a_documents_resources_point_to_the_stored_ids():
    result = extraction(
        1,
        [
            {"resourceType": "Condition", "id": "c1", "code": {"text": "Asthma"}},
            {
                "resourceType": "Observation",
                "id": "o1",
                "hasMember": [{"reference": "Condition/c1"}],
                "focus": [{"reference": "urn:uuid:c1"}, {"reference": "Patient/p-1"}],
            },
        ],
    )
    decision = plan_merge(result, None, [], NOW)
    assert decision.changes is not None
    condition, observation = (w.body for w in decision.changes.inserts)
    assert observation["hasMember"][0]["reference"] == f"Condition/{condition['id']}"
    assert observation["focus"][0]["reference"] == f"Condition/{condition['id']}"
    assert observation["focus"][1]["reference"] == "Patient/p-1"


def test_pending_unmerged_document_merges_with_the_same_version():
    stored = stored_from([], processing_status=ProcessingStatus.PENDING, is_merged=False)
    assert plan_merge(extraction(1), stored, [], NOW).outcome == MergeOutcome.REMERGED


def test_fast_resource_uuid_equals_uuid5():
    import uuid

    from domain.resources import RESOURCE_NAMESPACE, resource_uuid

    for name in ("doc-1|Condition|#0", "dóc|Observation|x", ""):
        assert resource_uuid(name) == str(uuid.uuid5(RESOURCE_NAMESPACE, name))


def test_raw_event_with_or_without_local_links_gives_the_same_plan():
    linked = extraction(
        1,
        [
            {"resourceType": "Condition", "id": "c1"},
            {"resourceType": "Observation", "id": "o1", "focus": [{"reference": "Condition/c1"}]},
        ],
    )
    for result in (linked, extraction(1, [{"resourceType": "Condition", "id": "c1"}])):
        raw = result.model_dump_json().encode()
        with_raw = plan_merge(result, None, [], NOW, raw)
        without = plan_merge(result, None, [], NOW)
        assert with_raw.changes is not None and without.changes is not None
        assert [w.body for w in with_raw.changes.inserts] == [
            w.body for w in without.changes.inserts
        ]


def test_a_newer_extraction_that_passes_every_rule_resolves_the_flag():
    flagged = stored_from([], review_status=ReviewStatus.FLAGGED)
    decision = plan_merge(extraction(2), flagged, [], NOW)
    assert decision.resolves_flag
    still = plan_merge(
        extraction(2), flagged, [FlagReason(rule=FlagRule.LOW_CONFIDENCE, text="x")], NOW
    )
    assert not still.resolves_flag
    assert not plan_merge(extraction(1), None, [], NOW).resolves_flag
