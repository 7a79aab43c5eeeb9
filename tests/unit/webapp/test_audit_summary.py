from webapp.endpoints.audit import details_summary


def test_a_merge_entry():
    lines = details_summary(
        "merge",
        {
            "document_version": 1,
            "review_status": "flagged",
            "flag_reasons": ["low_confidence"],
            "resources": {
                "added": {"Condition": 2, "Observation": 1},
                "updated": {},
                "removed": {},
            },
        },
    )
    assert lines == [
        "added: 2 Condition, 1 Observation",
        "review status: flagged",
        "flagged: low_confidence",
        "version 1",
    ]


def test_a_review_entry_shows_versions_and_the_note():
    lines = details_summary(
        "rollback",
        {
            "document_version": 3,
            "expected_version": 2,
            "review_status": "rejected",
            "note": "wrong patient",
            "resources": {"removed": {"Condition": 4}},
        },
    )
    assert "removed: 4 Condition" in lines
    assert "version 3 (reviewer saw 2)" in lines
    assert "note: “wrong patient”" in lines


def test_a_rollback_of_an_empty_document_still_says_how_many_went():
    lines = details_summary(
        "rollback", {"resources": {"removed": {}}, "resources_removed": 0, "document_version": 2}
    )
    assert lines[0] == "resources removed: 0"


def test_audit_actions_read_as_deeds():
    from webapp.present import audit_action_label

    assert audit_action_label("rollback") == "Removed from record"
    assert audit_action_label("merge") == "Merged"
    assert audit_action_label("legacy_import") == "Legacy import"
