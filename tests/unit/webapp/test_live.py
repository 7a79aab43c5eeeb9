import asyncio

import orjson

from schemas import FlaggedItem, ReviewStatus
from streams.topics import Topics
from webapp.live import FLAGGED, RESYNC, STATUS, LiveEvent, LiveHub, live_event


def event(kind: str, event_id: str, document_id: str = "d1") -> LiveEvent:
    return LiveEvent(kind, event_id, document_id, orjson.dumps({"document_id": document_id}))


async def test_subscribers_get_what_they_asked_for_once():
    hub = LiveHub()
    with (
        hub.subscribe(kinds=frozenset({FLAGGED})) as flagged,
        hub.subscribe(kinds=frozenset({STATUS}), document_id="d2") as one_document,
    ):
        assert hub.clients == 2
        assert hub.publish(event(FLAGGED, "e1"))
        assert not hub.publish(event(FLAGGED, "e1")), "a redelivered event is dropped"
        hub.publish(event(STATUS, "e2", "d1"))
        hub.publish(event(STATUS, "e3", "d2"))
        await asyncio.sleep(0)  # call_soon_threadsafe delivers on the next loop turn
        assert [flagged.queue.get_nowait().event_id] == ["e1"] and flagged.queue.empty()
        assert one_document.queue.get_nowait().event_id == "e3" and one_document.queue.empty()
    assert hub.clients == 0


async def test_a_subscriber_that_falls_behind_gets_a_resync():
    hub = LiveHub(queue_size=2)
    with hub.subscribe() as slow:
        for n in range(5):
            hub.publish(event(FLAGGED, f"e{n}"))
        await asyncio.sleep(0)
        kinds = []
        while not slow.queue.empty():
            kinds.append(slow.queue.get_nowait().kind)
        assert RESYNC in kinds and len(kinds) <= 2


def test_sse_framing_is_one_event_per_block():
    framed = event(FLAGGED, "abc-1").sse()
    assert framed == b'event: flagged\nid: abc-1\ndata: {"document_id":"d1"}\n\n'


def test_live_events_are_decoded_through_the_topic_registry():
    topics = Topics()
    item = FlaggedItem(
        kind="flagged",
        document_id="d1",
        patient_id="p1",
        review_status=ReviewStatus.FLAGGED,
        version=1,
    )
    parsed = live_event(FLAGGED, topics.flagged_items, topics.flagged_items.encode(item))
    assert parsed is not None and parsed.document_id == "d1"
    assert parsed.event_id == str(item.event_id)
    assert live_event(FLAGGED, topics.flagged_items, b"{not json") is None
    assert live_event(FLAGGED, topics.flagged_items, b"[1]") is None
    # An id that would break the SSE framing is no UUID: refused with the rest of the event.
    evil = orjson.dumps({**item.model_dump(mode="json"), "event_id": "x\nevent: evil"})
    assert live_event(FLAGGED, topics.flagged_items, evil) is None
    assert live_event(STATUS, topics.document_status, orjson.dumps({"event_id": "e"})) is None
