"""JSON lines files of ExtractionResults: what `optimerge publish` reads."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from schemas.events import ExtractionResult


def write_jsonl(results: Iterable[ExtractionResult], path: Path) -> int:
    """Write one result per line; returns how many were written."""
    written = 0
    with path.open("w", encoding="utf-8") as out:
        for result in results:
            out.write(result.model_dump_json())
            out.write("\n")
            written += 1
    return written


def iter_jsonl(path: Path) -> Iterator[ExtractionResult]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield ExtractionResult.model_validate_json(line)
