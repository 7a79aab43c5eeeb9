import json

import pytest

from schemas import ReviewActionKind
from webapp.actions import ActionInvalid, build_action
from webapp.roles import Role, User

from ._views import document_view

ANA = User("ana", Role.REVIEWER)
DOCUMENT = document_view(version=3)


def build(**fields):
    return build_action(ANA, DOCUMENT, fields, max_bytes=100_000)


def test_mark_correct_carries_the_version_seen_and_the_reviewer():
    action = build(action="mark_correct", expected_version="3", note="  checked the letter ")
    assert action.action == ReviewActionKind.MARK_CORRECT
    assert (action.expected_version, action.reviewer, action.note) == (
        3,
        "ana",
        "checked the letter",
    )
    assert (action.document_id, action.patient_id) == ("d1", "p-1")
    assert action.corrected_resources is None


def test_correct_data_from_the_form_text_or_a_json_list():
    resources = [{"resourceType": "Condition", "code": {"text": "Asthma"}}]
    from_form = build(
        action="correct_data", expected_version=1, corrected_resources=json.dumps(resources)
    )
    from_api = build(action="correct_data", expected_version=1, corrected_resources=resources)
    assert from_form.corrected_resources == from_api.corrected_resources == resources


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"action": "approve", "expected_version": 1}, "must be one of"),
        ({"action": "rollback"}, "expected_version"),
        ({"action": "rollback", "expected_version": "-1"}, "expected_version"),
        ({"action": "rollback", "expected_version": 1, "note": "x" * 2001}, "note"),
        ({"action": "correct_data", "expected_version": 1}, "empty"),
        (
            {"action": "correct_data", "expected_version": 1, "corrected_resources": "[{}]"},
            "resourceType",
        ),
    ],
)
def test_invalid_actions_say_why(fields, expected):
    with pytest.raises(ActionInvalid) as caught:
        build(**fields)
    assert any(expected in p for p in caught.value.problems)


def test_a_pasted_note_loses_the_characters_the_contract_refuses():
    action = build(action="mark_correct", expected_version=3, note="from a PDF\x00\x0c\nok")
    assert action.note == "from a PDF\nok"


def test_corrections_keep_decimals_and_obey_the_input_contract():
    text = '[{"resourceType": "Observation", "valueQuantity": {"value": 0.010}}]'
    action = build(action="correct_data", expected_version=1, corrected_resources=text)
    assert b'"value":0.010' in action_bytes(action)
    for bad, expected in [
        ('[{"resourceType": "Observation", "code": {"text": "a\\u0000b"}}]', "NUL"),
        ('[{"resourceType": "Widget"}]', "resourceType (FHIR R4)"),
        ('[{"resourceType": "Patient"}]', "cannot contribute"),
        ('[{"resourceType": "Observation", "x": ' + "[" * 70 + "]" * 70 + "}]", "deeper"),
    ]:
        with pytest.raises(ActionInvalid) as caught:
            build(action="correct_data", expected_version=1, corrected_resources=bad)
        assert any(expected in p for p in caught.value.problems), (bad, caught.value.problems)


def action_bytes(action):
    from streams.topics import Topics

    return Topics().review_actions.encode(action)
