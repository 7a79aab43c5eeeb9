"""How a document's extraction is kept (migration 0009): the event as received, lz4-compressed
(block format with its size in front), in documents.extraction_lz4; rows stored before keep
their jsonb `extraction`. Readers go through `stored_extraction`, whichever the row has."""

from __future__ import annotations

from typing import Any

import cramjam

from schemas.exact_json import loads_exact


def compress(text: str | bytes) -> bytes:
    """lz4 of the extraction's UTF-8 JSON text: ~9 µs and a third of the size for 9 KB."""
    data = text.encode() if isinstance(text, str) else text
    return bytes(cramjam.lz4.compress_block(data))


def decompress(blob: bytes) -> bytes:
    return bytes(cramjam.lz4.decompress_block(blob))


def stored_extraction(compressed: bytes | None, legacy: Any) -> dict[str, Any] | None:
    """The extraction of a row: its compressed event, read exactly (decimals as sent), or the
    jsonb of a row stored before migration 0009."""
    if compressed is not None:
        value = loads_exact(decompress(compressed))
        return value if isinstance(value, dict) else None
    return None if legacy is None else dict(legacy)
