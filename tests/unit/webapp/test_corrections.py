import json

import pytest

from webapp.corrections import CorrectionError, editable_resources, parse_corrected_resources

PID = "p-1"


def parse(text: str, max_bytes: int = 100_000):
    return parse_corrected_resources(text, patient_id=PID, max_bytes=max_bytes)


def problems(text: str, max_bytes: int = 100_000) -> list[str]:
    with pytest.raises(CorrectionError) as caught:
        parse(text, max_bytes)
    return caught.value.problems


def test_a_valid_list_is_returned_as_is():
    resources = [
        {"resourceType": "Condition", "id": "c1", "subject": {"reference": f"Patient/{PID}"}},
        {"resourceType": "Observation", "code": {"text": "BMI"}},
    ]
    assert parse(json.dumps(resources)) == resources


def test_invalid_json_says_where():
    [message] = problems('[{"resourceType": "Condition",\n}]')
    assert "not valid JSON" in message and "line 2" in message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty"),
        ('{"resourceType": "Condition"}', "JSON array"),
        ("[]", "Remove from record"),
        ("[1]", "not a JSON object"),
        ('[{"code": {}}]', "needs a resourceType"),
        ('[{"resourceType": "condition"}]', "needs a resourceType"),
        ('[{"resourceType": "Patient"}]', "cannot contribute a Patient"),
        ('[{"resourceType": "Condition", "id": 7}]', "non-empty string"),
        (
            '[{"resourceType": "Condition", "id": "a"}, {"resourceType": "Condition", "id": "a"}]',
            "used twice",
        ),
        (
            '[{"resourceType": "Condition", "subject": {"reference": "Patient/p-2"}}]',
            "another patient",
        ),
    ],
)
def test_each_problem_is_named(text, expected):
    assert any(expected in p for p in problems(text))


def test_every_problem_is_listed_not_just_the_first():
    found = problems('[{"resourceType": "Patient"}, {"nope": 1}, 3]')
    assert len(found) == 3
    assert found[0].startswith("Resource 1 (Patient)") and found[2].startswith("Resource 3")


def test_size_limit():
    assert "larger than" in problems(json.dumps([{"resourceType": "Condition"}]), max_bytes=10)[0]


def test_the_editor_keeps_ids_and_drops_only_the_stamped_meta():
    stored = [
        {
            "resourceType": "Condition",
            "id": "stored-id",
            "meta": {"source": "document_d1", "versionId": "2", "lastUpdated": "x", "tag": [1]},
        },
        {"resourceType": "Observation", "id": "o", "meta": {"source": "document_d1"}},
    ]
    shown = json.loads(editable_resources(stored))
    assert shown == [
        {"resourceType": "Condition", "id": "stored-id", "meta": {"tag": [1]}},
        {"resourceType": "Observation", "id": "o"},
    ]
    assert stored[0]["meta"]["source"] == "document_d1", "the stored resources stay untouched"
