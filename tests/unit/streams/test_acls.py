"""The ACL table (streams/acls.py): each principal gets what its job needs, and no more."""

from __future__ import annotations

from streams.acls import (
    APP,
    CHECKPOINTER,
    EXTRACTOR,
    OPERATOR,
    PRINCIPALS,
    WORKER,
    leader_topic,
    pipeline_grants,
    reader_grants,
)
from streams.topics import Topics

TOPICS = Topics("t.")


def _allowed(principal: str, operation: str) -> set[str]:
    return {
        g.name
        for g in pipeline_grants(TOPICS, "t.optimerge")
        if g.principal == principal and g.resource == "TOPIC" and operation in g.operations
    }


def test_extractors_only_produce_extraction_results() -> None:
    assert _allowed(EXTRACTOR, "WRITE") == {"t.extraction.results"}
    assert _allowed(EXTRACTOR, "READ") == set()


def test_the_app_produces_review_actions_and_reads_what_it_shows_but_not_the_dlq() -> None:
    assert _allowed(APP, "WRITE") == {"t.review.actions"}
    assert _allowed(APP, "READ") >= {"t.flagged.items", "t.document.status", "t.pipeline.metrics"}
    assert _allowed(APP, "READ").isdisjoint(
        {"t.extraction.results", "t.review.actions", "t.extraction.results.dlq"}
    )


def test_workers_read_the_inputs_and_write_the_outputs() -> None:
    assert _allowed(WORKER, "READ") == {
        "t.extraction.results",
        "t.review.actions",
        leader_topic("t.optimerge"),
    }
    assert _allowed(WORKER, "WRITE") >= {
        "t.flagged.items",
        "t.document.status",
        "t.pipeline.metrics",
        "t.extraction.results.dlq",
    }
    assert "t.review.actions" not in _allowed(WORKER, "WRITE")


def test_only_operators_read_the_dead_letters_and_they_replay_to_the_inputs() -> None:
    readers = {
        p
        for p in (APP, EXTRACTOR, WORKER, OPERATOR)
        if "t.extraction.results.dlq" in _allowed(p, "READ")
    }
    assert readers == {OPERATOR}
    assert _allowed(OPERATOR, "WRITE") == {"t.extraction.results", "t.review.actions"}


def test_only_the_checkpointer_writes_audit_checkpoints_and_only_operators_also_read_them() -> None:
    checkpoints = "t.audit.checkpoints"
    assert _allowed(CHECKPOINTER, "WRITE") == _allowed(CHECKPOINTER, "READ") == {checkpoints}
    assert {p for p in PRINCIPALS if checkpoints in _allowed(p, "WRITE")} == {CHECKPOINTER}
    # The workers and the app do not even see it (the database's attacker may hold theirs).
    seen = {p for p in PRINCIPALS if checkpoints in _allowed(p, "DESCRIBE")}
    assert seen == {CHECKPOINTER, OPERATOR}
    assert {p for p in PRINCIPALS if checkpoints in _allowed(p, "READ")} == seen
    assert CHECKPOINTER in {g.principal for g in reader_grants()}
