"""Dead letters built from the raw bytes of a message, never from a model that might itself fail
to serialise, and always small enough to be published (docs/contract.md#dead-letters)."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import orjson

from schemas import DeadLetter
from schemas.events import DeadLetterKind
from streams.topics import MAX_MESSAGE_BYTES

# The payload may take this much of a letter's JSON; the rest of the letter is a few KiB.
PAYLOAD_LIMIT = MAX_MESSAGE_BYTES // 2
# What a letter keeps of a payload too big to carry whole: enough to recognise it.
PREVIEW_BYTES = 64 * 1024
MAX_REASON_CHARS = 4000
MAX_KEY_CHARS = 1024


def payload_fields(value: bytes, *, keep_whole: bool = True) -> dict[str, Any]:
    """The payload fields of a letter for `value`: whole when it fits, else its first bytes."""
    fields: dict[str, Any] = {
        "payload_bytes": len(value),
        "payload_sha256": hashlib.sha256(value).hexdigest(),
    }
    if keep_whole:
        text = _utf8(value)
        if text is not None and len(orjson.dumps(text)) <= PAYLOAD_LIMIT:
            return {**fields, "payload": text}
        if text is None and (len(value) + 2) * 4 // 3 + 4 <= PAYLOAD_LIMIT:
            return {**fields, "payload": _b64(value), "payload_encoding": "base64"}
    preview = value[:PREVIEW_BYTES]
    truncated = len(preview) < len(value)
    # A cut may split a character: drop up to three bytes to keep the preview readable text.
    for cut in range(4):
        text = _utf8(preview[: len(preview) - cut] if cut else preview)
        if text is not None:
            return {**fields, "payload": text, "payload_truncated": truncated}
    return {
        **fields,
        "payload": _b64(preview),
        "payload_encoding": "base64",
        "payload_truncated": truncated,
    }


def _utf8(value: bytes) -> str | None:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def message_key(key: bytes | None) -> str | None:
    if key is None:
        return None
    return key.decode("utf-8", "replace")[:MAX_KEY_CHARS]


def dead_letter(
    *,
    source_topic: str,
    value: bytes | None,
    kind: DeadLetterKind,
    reason: str,
    key: bytes | str | None,
    partition: int | None = None,
    offset: int | None = None,
    document_id: str | None = None,
    keep_whole: bool = True,
    **extra: Any,
) -> DeadLetter:
    """A letter for one message as received; `keep_whole=False` keeps only a preview."""
    text_key = key if isinstance(key, str) or key is None else message_key(key)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return DeadLetter(
        source_topic=source_topic,
        source_partition=partition,
        source_offset=offset,
        key=text_key,
        reason=reason,
        error_kind=kind,
        document_id=document_id,
        **payload_fields(value or b"", keep_whole=keep_whole),
        **extra,
    )
