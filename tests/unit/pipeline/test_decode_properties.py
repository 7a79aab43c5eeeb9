"""Property tests of the edge (issue 12): whatever the bytes, decode answers with an event or a
refusal with a reason, never an exception, and the dead letter it writes fits in a message."""

from __future__ import annotations

import random
from datetime import UTC, datetime

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.decode import RawRecord, Rejected, decode
from pipeline.letters import PAYLOAD_LIMIT, dead_letter
from schemas import ExtractionResult, ReviewAction
from streams.topics import EXTRACTION_RESULTS, MAX_MESSAGE_BYTES, REVIEW_ACTIONS, Topics
from tests.unit.pipeline._grammar import GRAMMAR, PATIENT, unknown_fields, valid_extraction

MAX_BYTES = 2 * 1024 * 1024
TOPICS = Topics("p.")
AT = datetime(2026, 11, 23, tzinfo=UTC)
SETTINGS = settings(max_examples=300, deadline=None, database=None)


def record(
    value: bytes | None, key: bytes | None, topic: str = "p.extraction.results"
) -> RawRecord:
    return RawRecord(topic, 0, 7, key, value, AT)


def _answer(value: bytes | None, key: bytes | None):
    return decode(record(value, key), topic=EXTRACTION_RESULTS, max_bytes=MAX_BYTES)


@SETTINGS
@given(st.binary(max_size=4096), st.one_of(st.none(), st.binary(max_size=64)))
def test_any_bytes_give_an_event_or_a_refusal(value: bytes, key: bytes | None):
    answer = _answer(value, key)
    assert isinstance(answer, ExtractionResult | Rejected)
    if isinstance(answer, Rejected):
        assert answer.dead_letter.reason


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=30,
)


@SETTINGS
@given(st.dictionaries(st.sampled_from(list(valid_extraction("d"))), json_values, max_size=6))
def test_any_json_in_the_shape_of_an_event_gives_an_event_or_a_refusal(changes: dict):
    doc = {**valid_extraction("doc-1"), **changes}
    from schemas.exact_json import dumps_exact

    try:
        value = dumps_exact(doc)
    except TypeError:
        return
    answer = _answer(value, PATIENT.encode())
    assert isinstance(answer, ExtractionResult | Rejected)


@SETTINGS
@given(st.binary(max_size=4096))
def test_review_actions_too(value: bytes):
    answer = decode(
        record(value, b"k", "p.review.actions"), topic=REVIEW_ACTIONS, max_bytes=MAX_BYTES
    )
    assert isinstance(answer, ReviewAction | Rejected)


def test_every_bad_input_of_the_grammar_is_refused_with_a_reason():
    rng = random.Random(12)
    for name, mutate in GRAMMAR.items():
        for n in range(20):
            value, key = mutate(rng, f"doc-{name}-{n}")
            answer = _answer(value, key)
            assert isinstance(answer, Rejected), (name, value[:200])
            assert answer.dead_letter.reason, name
            assert len(TOPICS.dlq.encode(answer.dead_letter)) < MAX_MESSAGE_BYTES


def test_unknown_fields_are_kept():
    value, key = unknown_fields(random.Random(1), "doc-extra")
    answer = _answer(value, key)
    assert isinstance(answer, ExtractionResult)
    assert answer.model_extra and "vendor_score" in answer.model_extra
    assert answer.model.model_extra == {"temperature": answer.model.model_extra["temperature"]}


@settings(
    max_examples=25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.integers(min_value=0, max_value=7 * 1024 * 1024), st.sampled_from([0, 0x41, 0xFF]))
def test_a_dead_letter_never_exceeds_the_message_size(size: int, byte: int):
    letter = dead_letter(
        source_topic="p.extraction.results",
        value=bytes([byte]) * size,
        kind="invalid_json",
        reason="x" * 10_000,
        key=b"k" * 10_000,
    )
    encoded = TOPICS.dlq.encode(letter)
    assert len(encoded) < MAX_MESSAGE_BYTES
    assert letter.payload_bytes == size
    if letter.payload_truncated:
        assert letter.payload_bytes_as_received() == bytes([byte]) * len(
            letter.payload_bytes_as_received()
        )
    else:
        assert letter.payload_bytes_as_received() == bytes([byte]) * size


def test_the_issues_9_mb_letter_is_now_a_preview():
    # 1.5 MB of NUL bytes is valid UTF-8 but each NUL takes six bytes in JSON.
    answer = _answer(b"\x00" * 1_500_000, PATIENT.encode())
    assert isinstance(answer, Rejected)
    letter = answer.dead_letter
    assert letter.error_kind == "invalid_json" and letter.payload_truncated
    assert letter.payload_bytes == 1_500_000 and len(letter.payload_sha256 or "") == 64
    assert len(TOPICS.dlq.encode(letter)) < PAYLOAD_LIMIT
