"""A mixed feed of 2,000 Synthea documents through real workers: merged once, flagged right."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from config import ResolvedSettings
from storage.db import connect
from streams.topics import Topics
from tests.audit_helpers import verify_trail

from ._helpers import demo_feed, publish, read_topic, wait_until_processed

FEED = 2000

pytestmark = pytest.mark.slow


def check_exactly_once(settings: ResolvedSettings, docs: list) -> None:
    expected_resources = {d.result.document_id: len(d.result.resources) for d in docs}
    with connect(settings.migration_url) as conn:
        per_doc = Counter(
            d for (d,) in conn.execute("SELECT document_id FROM resources").fetchall()
        )
        assert dict(per_doc) == {d: n for d, n in expected_resources.items() if n}
        audit = Counter(conn.execute("SELECT document_id, action FROM audit_log").fetchall())
        assert set(audit.values()) == {1}
        assert len(audit) == len(docs)
        statuses = conn.execute(
            "SELECT processing_status, count(*) FROM documents GROUP BY 1"
        ).fetchall()
        assert statuses == [("COMPLETE", len(docs))]
        assert verify_trail(conn).ok


def test_mixed_feed_is_merged_once_and_the_right_ones_flagged(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    docs = demo_feed(settings, FEED)
    workers = [start_worker(), start_worker()]
    publish(settings, (d.result for d in docs))
    wait_until_processed(settings, FEED)
    check_exactly_once(settings, docs)
    with connect(settings.migration_url) as conn:
        stored = dict(conn.execute("SELECT document_id, flag_reasons FROM documents").fetchall())
    wrong = {
        d.result.document_id: (
            sorted(d.intended_reasons),
            sorted(r["rule"] for r in stored[d.result.document_id]),
        )
        for d in docs
        if set(d.intended_reasons) != {r["rule"] for r in stored[d.result.document_id]}
    }
    assert not wrong, list(wrong.items())[:10]
    flagged_ids = {d.result.document_id for d in docs if d.intended_reasons}
    assert 0.05 <= len(flagged_ids) / FEED <= 0.20
    topics = Topics(settings.topic_prefix)
    items = {e["event_id"]: e for e in read_topic(settings, topics.flagged_items.name)}
    assert {e["document_id"] for e in items.values() if e["kind"] == "flagged"} == flagged_ids
    statuses = {e["event_id"]: e for e in read_topic(settings, topics.document_status.name)}
    complete = {e["document_id"] for e in statuses.values() if e["status"] == "COMPLETE"}
    assert complete == {d.result.document_id for d in docs}
    for worker in workers:
        assert worker.stop() == 0, worker.log_text()[-2000:]
    # Each worker flushes its open window on the way out: the windows add up to the feed.
    windows = {e["event_id"]: e for e in read_topic(settings, topics.pipeline_metrics.name)}
    assert sum(w["documents"] for w in windows.values()) == FEED
    assert sum(w["flagged"] for w in windows.values()) == len(flagged_ids)
    assert sum(w["auto_approved"] for w in windows.values()) == FEED - len(flagged_ids)
    per_reason = Counter(r for d in docs for r in d.intended_reasons)
    summed: Counter[str] = Counter()
    for w in windows.values():
        summed.update(w["reasons"])
    assert summed == per_reason


def test_kill_9_mid_feed_loses_and_duplicates_nothing(
    settings: ResolvedSettings, start_worker: Callable
) -> None:
    docs = demo_feed(settings, FEED, seed=12)
    first, second = start_worker(), start_worker()
    publish(settings, (d.result for d in docs))
    wait_until_processed(settings, FEED // 4)
    first.kill()  # SIGKILL in the middle of the feed
    restarted = start_worker()
    wait_until_processed(settings, FEED // 2)
    second.kill()
    wait_until_processed(settings, FEED)
    check_exactly_once(settings, docs)
    assert restarted.stop() == 0
