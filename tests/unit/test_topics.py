"""The topic registry: every topic's name, key and codec in one place."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from schemas import DeadLetter, FlaggedItem, ReviewAction, ReviewStatus
from streams.topics import MAX_MESSAGE_BYTES, REGISTRY, Topics

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_names_take_the_prefix_and_the_inputs_are_the_two_co_partitioned_topics() -> None:
    topics = Topics("t1.")
    assert topics.extraction_results.name == "t1.extraction.results"
    assert topics.inputs() == ("t1.extraction.results", "t1.review.actions")
    assert set(topics.large()) == {
        "t1.extraction.results",
        "t1.review.actions",
        "t1.extraction.results.dlq",
    }
    assert len(topics.all()) == len(REGISTRY) == 8
    assert topics.retention() == {"t1.worker.heartbeats": 3_600_000}
    assert topics.compacted() == ("t1.audit.checkpoints",)
    assert topics.spec_named("t1.review.actions") is topics.review_actions.spec
    assert topics.spec_named("review.actions") is None  # another tenant's
    assert MAX_MESSAGE_BYTES == 8 * 1024 * 1024


def test_events_round_trip_and_are_keyed_as_the_contract_says() -> None:
    topics = Topics()
    action = ReviewAction(
        document_id="d1", patient_id="p1", action="rollback", reviewer="r", expected_version=2
    )
    assert topics.review_actions.decode(topics.review_actions.encode(action)) == action
    assert topics.review_actions.key(action) == "p1"
    item = FlaggedItem(
        kind="flagged", document_id="d1", patient_id="p1", review_status=ReviewStatus.FLAGGED,
        version=1,
    )  # fmt: skip
    assert topics.flagged_items.key(item) == "p1"
    letter = DeadLetter(source_topic="x", key="p9", reason="r", error_kind="schema", payload="{")
    assert topics.dlq.key(letter) == "p9"


def test_a_message_of_another_shape_is_refused_by_its_topic() -> None:
    with pytest.raises(ValidationError):
        Topics().document_status.decode(b'{"event_id": "not a uuid"}')
