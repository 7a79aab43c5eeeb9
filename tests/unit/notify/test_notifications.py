"""What the notifier sends, to whom, under which id (pure)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import orjson
from pydantic import SecretStr

from domain.notifications import (
    ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    NotifyChannel,
    NotifySettings,
    Waiting,
    alert_notifications,
    digest_notifications,
    flagged_notifications,
    request_body,
    retryable,
    sign,
)
from schemas import FlaggedItem, FlagReason, FlagRule, ReviewStatus

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
EVERYTHING = NotifyChannel(name="all", url="http://r/all", secret=SecretStr("s3cret"))
IDENTITY = NotifyChannel(
    name="identity", url="http://r/id", format="slack", rules=("name_mismatch",), kinds=("flagged",)
)
SETTINGS = NotifySettings(channels=(EVERYTHING, IDENTITY), app_url="https://review.example/")


def item(*rules: FlagRule, kind: str = "flagged") -> FlaggedItem:
    return FlaggedItem(
        event_id=uuid.UUID(int=7),
        kind=kind,
        document_id="doc/1",
        patient_id="p1",
        review_status=ReviewStatus.FLAGGED,
        version=1,
        flag_reasons=[FlagReason(rule=r, text=f"the document says Jane Doe ({r})") for r in rules],
        at=NOW,
    )


def test_a_flagged_item_goes_to_the_channels_whose_rules_it_matches() -> None:
    assert [
        n.channel.name for n in flagged_notifications(item(FlagRule.LOW_CONFIDENCE), SETTINGS)
    ] == ["all"]
    both = flagged_notifications(item(FlagRule.NAME_MISMATCH), SETTINGS)
    assert [n.channel.name for n in both] == ["all", "identity"]
    assert flagged_notifications(item(FlagRule.NAME_MISMATCH, kind="resolved"), SETTINGS) == []


def test_ids_are_deterministic_per_event_and_channel() -> None:
    first = flagged_notifications(item(FlagRule.NAME_MISMATCH), SETTINGS)
    again = flagged_notifications(item(FlagRule.NAME_MISMATCH), SETTINGS)
    assert [n.notification_id for n in first] == [n.notification_id for n in again]
    assert len({n.notification_id for n in first}) == 2


def test_payloads_carry_ids_rules_and_a_link_but_no_reason_texts() -> None:
    [n] = flagged_notifications(item(FlagRule.LOW_CONFIDENCE), SETTINGS)
    body, headers = request_body(n, "1700000000")
    data = orjson.loads(body)
    assert data["rules"] == ["low_confidence"]
    assert data["url"] == "https://review.example/documents/doc%2F1/verify/"
    assert b"Jane" not in body
    assert headers[ID_HEADER] == str(n.notification_id)
    assert headers[SIGNATURE_HEADER] == sign("s3cret", "1700000000", body)
    assert headers[TIMESTAMP_HEADER] == "1700000000"
    detailed = NotifySettings(channels=(EVERYTHING.model_copy(update={"include_details": True}),))
    [n] = flagged_notifications(item(FlagRule.LOW_CONFIDENCE), detailed)
    assert b"Jane" in request_body(n, "1")[0]


def test_slack_gets_text_and_no_signature() -> None:
    [_, slack] = flagged_notifications(item(FlagRule.NAME_MISMATCH), SETTINGS)
    body, headers = request_body(slack, "1")
    assert set(orjson.loads(body)) == {"text"} and SIGNATURE_HEADER not in headers


def test_one_digest_and_one_alert_per_period_and_channel() -> None:
    waiting = [Waiting("d1", "p1", NOW - timedelta(days=9), ("low_confidence",))]
    morning = digest_notifications(waiting, NOW, SETTINGS)
    evening = digest_notifications(waiting, NOW + timedelta(hours=6), SETTINGS)
    assert [n.channel.name for n in morning] == ["all"]  # identity takes flagged items only
    assert morning[0].notification_id == evening[0].notification_id
    assert morning[0].payload["items"][0]["waiting_days"] == 9.0
    assert digest_notifications([], NOW, SETTINGS) == []
    now = alert_notifications("no_workers", "none alive", {}, NOW, SETTINGS)
    later = alert_notifications(
        "no_workers", "none alive", {}, NOW + timedelta(minutes=30), SETTINGS
    )
    next_hour = alert_notifications("no_workers", "none", {}, NOW + timedelta(hours=1), SETTINGS)
    assert now[0].notification_id == later[0].notification_id != next_hour[0].notification_id


def test_only_failures_retrying_can_fix_are_retried() -> None:
    assert retryable(None) and retryable(500) and retryable(503) and retryable(429)
    assert not retryable(200) and not retryable(400) and not retryable(404)
