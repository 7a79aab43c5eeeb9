"""What `optimerge notify` sends, to whom, under which id (pure; docs/contract.md#notifications).

Every notification has a deterministic id (UUID5 of what it is about and the channel), so a
redelivered flagged item, a restarted notifier or a digest computed twice yields the same id: the
delivery log skips it, and a receiver dedupes on the `X-Optimerge-Notification-Id` header.
Payloads are PHI-minimal: ids, rule codes and a link; no names or reason texts unless a channel
says `include_details`."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from urllib.parse import quote

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from schemas import FlaggedItem

NAMESPACE = uuid.UUID("b1d7a1c4-3f0e-4c55-9b7e-2f6d0f3a9e11")
Kind = Literal["flagged", "digest", "alert"]
ID_HEADER = "X-Optimerge-Notification-Id"
SIGNATURE_HEADER = "X-Optimerge-Signature"
TIMESTAMP_HEADER = "X-Optimerge-Timestamp"


class NotifyChannel(BaseModel):
    """One receiver (a team's Slack incoming webhook, or any HTTPS endpoint taking signed JSON)."""

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=64)
    url: str = Field(min_length=1)
    format: Literal["slack", "json"] = "json"
    # Signs the generic JSON (HMAC-SHA256 of "<timestamp>.<body>"); Slack URLs carry their own.
    secret: SecretStr | None = None
    # Flag rule codes this channel wants new flagged items for; empty: every rule.
    rules: tuple[str, ...] = ()
    kinds: tuple[Kind, ...] = ("flagged", "digest", "alert")
    # Reason texts may quote the document (names, birth dates): off unless asked for.
    include_details: bool = False


class NotifySettings(BaseModel):
    model_config = ConfigDict(frozen=True)

    channels: tuple[NotifyChannel, ...] = ()
    # Where links in notifications point (the reviewer app).
    app_url: str = "http://127.0.0.1:8000"
    # The digest lists flagged documents waiting longer than this, once per `digest_every`.
    digest_after_days: float = Field(default=7.0, ge=0)
    digest_every_seconds: float = Field(default=86_400.0, gt=0)
    # How often the alert checks run (no worker alive, the dead-letter topic growing).
    alert_check_seconds: float = Field(default=60.0, gt=0)
    # An alert is sent at most once per channel and kind in a period this long.
    alert_quiet_seconds: float = Field(default=3_600.0, gt=0)
    timeout_seconds: float = Field(default=10.0, gt=0)
    backoff_initial_seconds: float = Field(default=0.5, gt=0)
    backoff_max_seconds: float = Field(default=60.0, gt=0)


@dataclass(frozen=True, slots=True)
class Notification:
    notification_id: uuid.UUID
    kind: Kind
    channel: NotifyChannel
    # What it is about, for the delivery log (a document id, a digest day, an alert kind).
    subject: str
    title: str
    payload: dict[str, Any] = field(default_factory=dict)


def notification_id(*parts: object) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, ":".join(str(p) for p in parts))


def verify_url(app_url: str, document_id: str) -> str:
    return f"{app_url.rstrip('/')}/documents/{quote(document_id, safe='')}/verify/"


def wants(channel: NotifyChannel, item: FlaggedItem) -> bool:
    if item.kind != "flagged" or "flagged" not in channel.kinds:
        return False
    rules = {r.rule.value for r in item.flag_reasons}
    return not channel.rules or bool(rules & set(channel.rules))


def flagged_notifications(item: FlaggedItem, settings: NotifySettings) -> list[Notification]:
    """A newly flagged document, for every channel whose rules it matches."""
    out = []
    rules = sorted({r.rule.value for r in item.flag_reasons})
    for channel in settings.channels:
        if not wants(channel, item):
            continue
        payload: dict[str, Any] = {
            "kind": "flagged",
            "document_id": item.document_id,
            "patient_id": item.patient_id,
            "version": item.version,
            "rules": rules,
            "confidence": item.confidence,
            "flagged_at": item.at.isoformat(),
            "url": verify_url(settings.app_url, item.document_id),
        }
        if channel.include_details:
            payload["reasons"] = [{"rule": r.rule.value, "text": r.text} for r in item.flag_reasons]
        out.append(
            Notification(
                notification_id(item.event_id, channel.name),
                "flagged",
                channel,
                item.document_id,
                f"Flagged for review: {item.document_id} ({', '.join(rules) or 'no rule'})",
                payload,
            )
        )
    return out


@dataclass(frozen=True, slots=True)
class Waiting:
    document_id: str
    patient_id: str
    since: datetime
    rules: tuple[str, ...]


def period_start(now: datetime, seconds: float) -> int:
    """The index of the period `now` falls in: one digest or alert per period and channel."""
    return int(now.timestamp() // seconds)


def digest_notifications(
    waiting: Sequence[Waiting], now: datetime, settings: NotifySettings
) -> list[Notification]:
    if not waiting:
        return []
    period = period_start(now, settings.digest_every_seconds)
    items = [
        {
            "document_id": w.document_id,
            "patient_id": w.patient_id,
            "waiting_since": w.since.isoformat(),
            "waiting_days": round((now - w.since).total_seconds() / 86_400, 1),
            "rules": list(w.rules),
            "url": verify_url(settings.app_url, w.document_id),
        }
        for w in waiting
    ]
    title = (
        f"{len(waiting)} flagged document(s) waiting longer than "
        f"{settings.digest_after_days:g} day(s)"
    )
    return [
        Notification(
            notification_id("digest", period, channel.name),
            "digest",
            channel,
            f"digest-{period}",
            title,
            {"kind": "digest", "count": len(items), "items": items[:100], "at": now.isoformat()},
        )
        for channel in settings.channels
        if "digest" in channel.kinds
    ]


def alert_notifications(
    alert: str, text: str, details: dict[str, Any], now: datetime, settings: NotifySettings
) -> list[Notification]:
    period = period_start(now, settings.alert_quiet_seconds)
    return [
        Notification(
            notification_id("alert", alert, period, channel.name),
            "alert",
            channel,
            f"{alert}-{period}",
            text,
            {"kind": "alert", "alert": alert, "text": text, "at": now.isoformat(), **details},
        )
        for channel in settings.channels
        if "alert" in channel.kinds
    ]


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def _slack_text(n: Notification) -> str:
    url = n.payload.get("url")
    if n.kind == "digest":
        lines = [f"*{n.title}*"] + [
            f"• <{i['url']}|{i['document_id']}> waiting {i['waiting_days']} d "
            f"({', '.join(i['rules'])})"
            for i in n.payload["items"][:20]
        ]
        return "\n".join(lines)
    if n.kind == "alert":
        return f":rotating_light: {n.title}"
    return f"{n.title} <{url}|Open it>" if url else n.title


def request_body(n: Notification, timestamp: str) -> tuple[bytes, dict[str, str]]:
    """The HTTP body and headers of a notification for its channel's format."""
    headers = {
        "Content-Type": "application/json",
        ID_HEADER: str(n.notification_id),
        TIMESTAMP_HEADER: timestamp,
    }
    if n.channel.format == "slack":
        body = orjson.dumps({"text": _slack_text(n)})
    else:
        body = orjson.dumps(
            {"notification_id": str(n.notification_id), "title": n.title, **n.payload},
            option=orjson.OPT_SORT_KEYS,
        )
        if n.channel.secret is not None:
            headers[SIGNATURE_HEADER] = sign(n.channel.secret.get_secret_value(), timestamp, body)
    return body, headers


def retryable(status: int | None) -> bool:
    """A failure worth retrying: no answer, a server error, or being told to slow down."""
    return status is None or status >= 500 or status in (408, 429)
