"""Collision-proof resource ids (scheme 2), and the ids of documents stored before (scheme 1)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.resources import correction_ids_for, resource_ids_for

ids_text = st.text(alphabet="ab|#:1", min_size=1, max_size=6)
resources = st.lists(
    st.fixed_dictionaries(
        {"resourceType": st.sampled_from(["Condition", "Observation"])},
        optional={"id": ids_text},
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=500, deadline=None, database=None)
@given(ids_text, ids_text, ids_text, ids_text, resources, resources)
def test_two_documents_of_different_patients_never_share_an_id(p1, d1, p2, d2, r1, r2):
    if p1 == p2:
        return
    first = set(resource_ids_for(d1, r1, patient_id=p1))
    second = set(resource_ids_for(d2, r2, patient_id=p2))
    corrections = set(correction_ids_for(p2, d2, 2, r2, ()))
    assert first.isdisjoint(second)
    assert first.isdisjoint(corrections)


@settings(max_examples=300, deadline=None, database=None)
@given(ids_text, ids_text, resources)
def test_ids_within_a_document_are_distinct_and_stable(patient, document, items):
    ids = resource_ids_for(document, items, patient_id=patient)
    assert len(set(ids)) == len(ids)
    assert ids == resource_ids_for(document, items, patient_id=patient)


def test_the_old_join_collision_is_gone():
    # Scheme 1 joined fields with "|": "D|Condition" + "Observation|x" == "D" + ... collide.
    victim = [{"resourceType": "Condition", "id": "Observation|x"}]
    squatter = [{"resourceType": "Observation", "id": "x"}]
    old_victim = resource_ids_for("D", victim, scheme=1)
    old_squatter = resource_ids_for("D|Condition", squatter, scheme=1)
    assert old_victim == old_squatter  # the bug, kept for stored documents
    assert resource_ids_for("D", victim, patient_id="p1") != resource_ids_for(
        "D|Condition", squatter, patient_id="p2"
    )


def test_scheme_1_ids_are_unchanged():
    # Values computed by the code before migration 0003: stored documents keep them.
    items = [
        {"resourceType": "Condition", "id": "c1"},
        {"resourceType": "Observation"},
        {"resourceType": "Observation", "id": "c1"},
        {"resourceType": "Condition", "id": "c1"},
        {"resourceType": "Observation", "id": "#0"},
    ]
    assert resource_ids_for("doc-1", items, scheme=1) == [
        "bb6f0bf7-4285-538b-949c-425011db563f",
        "c518e83c-bd91-5f7d-9c10-e7d97516ff4a",
        "ac19567f-2951-5aa9-9696-ae16c8620def",
        "3ddc1678-26df-5a86-9ea9-8e9c97b16204",
        "77799443-eaf7-573c-bbd4-30e24eb28400",
    ]
