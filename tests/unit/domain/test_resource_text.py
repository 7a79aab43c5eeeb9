"""The merge's work from the event's own text (domain/resource_text.py) decides and stores
exactly what the walk over the parsed resources does, whatever the JSON layout the producer
chose (compact, spaced, indented, ASCII-escaped)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.merge_plan import plan_merge
from domain.references import references_in
from domain.resource_text import reference_values, resource_texts, stamped_text
from domain.resources import prepare_resources
from schemas import ExtractionResult
from schemas.exact_json import dumps_exact, loads_exact

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SETTINGS = settings(max_examples=300, deadline=None, database=None)

ids = st.sampled_from(["a", "b", "enc-1", "x/y", 'q"t', "é"])
text = st.text(st.characters(exclude_categories=("Cs", "Cc")), max_size=12)
reference = st.one_of(
    ids.map(lambda i: f"urn:uuid:{i}"),
    ids.map(lambda i: f"Encounter/{i}"),
    ids.map(lambda i: f"Patient/{i}"),
    st.just("Patient/p-1"),
    text,
)
resource = st.fixed_dictionaries(
    {"resourceType": st.sampled_from(["Encounter", "Observation", "Condition"])},
    optional={
        "id": ids,
        "meta": st.one_of(
            st.just({}),
            st.fixed_dictionaries({"tag": st.just([{"code": "t"}])}),
            st.fixed_dictionaries({"source": text, "versionId": st.just("9")}),
        ),
        "encounter": st.fixed_dictionaries({"reference": reference}),
        "subject": st.fixed_dictionaries({"reference": reference, "display": text}),
        "note": st.lists(st.fixed_dictionaries({"text": text}), max_size=2),
        "valueQuantity": st.fixed_dictionaries(
            {"value": st.decimals(allow_nan=False, allow_infinity=False, places=3)}
        ),
    },
)


def _layouts(event: dict[str, Any]) -> list[bytes]:
    """The same event as different producers write it."""
    plain = json.loads(dumps_exact(event), parse_float=Decimal)

    def std(**kw: Any) -> bytes:
        return json.dumps(plain, default=str, **kw).encode()

    return [
        dumps_exact(event),
        std(),
        std(indent=2),
        std(ensure_ascii=False, separators=(",", ":")),
    ]


def _event(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "document_id": "doc-1",
        "patient_id": "p-1",
        "uploaded_at": "2026-12-01T10:00:00Z",
        "extracted_at": "2026-12-01T10:00:05Z",
        "model": {"name": "m"},
        "confidence": 0.9,
        "resources": resources,
    }


@SETTINGS
@given(st.lists(resource, min_size=1, max_size=6))
def test_the_text_path_plans_what_the_walk_plans(resources: list[dict[str, Any]]) -> None:
    for raw in _layouts(_event(resources)):
        result = ExtractionResult.model_validate(loads_exact(raw))
        walked = plan_merge(result, None, [], NOW)  # no raw: every resource walked
        from_text = plan_merge(result, None, [], NOW, raw)
        assert walked.changes is not None and from_text.changes is not None
        for a, b in zip(walked.changes.inserts, from_text.changes.inserts, strict=True):
            assert (a.resource_id, a.version_id, a.body) == (b.resource_id, b.version_id, b.body)
            # What PostgreSQL stores: jsonb keeps the last of duplicate keys, as loads does.
            assert loads_exact(b.json_text()) == a.body


@SETTINGS
@given(st.lists(resource, min_size=1, max_size=6))
def test_references_are_found_in_the_text_as_in_the_walk(resources: list[dict[str, Any]]) -> None:
    for raw in _layouts(_event(resources)):
        result = ExtractionResult.model_validate(loads_exact(raw))
        texts = prepare_resources(
            "doc-1", result.resources, patient_id="p-1", scheme=2, raw=raw
        ).texts
        assert texts is not None
        assert references_in(result.resources, texts) == references_in(result.resources)


def test_texts_are_refused_when_the_event_does_not_vouch_for_the_resources() -> None:
    resources = [{"resourceType": "Observation"}]
    assert resource_texts(None, resources) is None
    assert resource_texts(b'{"resources": []}', resources) is None
    assert resource_texts(b"not json", resources) is None
    assert resource_texts(b'{"resources": [{"resourceType": "Observation"}]}', resources) == [
        b'{"resourceType": "Observation"}'
    ]


def test_an_escaped_key_cannot_hide_a_reference() -> None:
    subject = b'"subject": {"refer\\u0065nce": "Patient/p-2"}'
    raw = b'{"resources": [{"resourceType": "Observation", ' + subject + b"}]}"
    result = ExtractionResult.model_validate(loads_exact(_event_bytes(raw)))
    texts = resource_texts(_event_bytes(raw), result.resources)
    assert texts is not None
    assert [t.id for t in references_in(result.resources, texts)] == ["p-2"]


def _event_bytes(resources_part: bytes) -> bytes:
    head = dumps_exact({k: v for k, v in _event([]).items() if k != "resources"})
    return head[:-1] + b"," + resources_part[1:]


def test_reference_values_decode_escapes() -> None:
    assert reference_values(b'{"reference" : "Encounter\\/e-1"}') == ["Encounter/e-1"]


def test_stamped_text_replaces_id_and_meta() -> None:
    text = stamped_text(
        b'{"resourceType":"Observation","id":"local","meta":{"tag":[]}}',
        resource_id="r-1",
        meta=b'{"source":"document_d","versionId":"1"}',
    )
    assert loads_exact(text) == {
        "resourceType": "Observation",
        "id": "r-1",
        "meta": {"source": "document_d", "versionId": "1"},
    }
