"""What the dead-letter pages show (pure): filters from the query, letters as rows, and what
became of each retry."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from schemas import DeadLetter
from streams.dead_letters import LetterFilter, StoredLetter

KINDS = ("invalid_json", "schema", "too_large", "merge_error")
KIND_LABELS = {
    "invalid_json": "Invalid JSON",
    "schema": "Not a valid event",
    "too_large": "Too large",
    "merge_error": "Merge failed",
}
# Where a replayed message landed, to find the letter it became if it failed again.
Position = tuple[str, int, int]


def _day(raw: str | None) -> date | None:
    try:
        return date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def parse_filter(query: Mapping[str, str]) -> tuple[LetterFilter, dict[str, str]]:
    """The filter a query asks for, and the values to show back in the form."""
    shown = {k: (query.get(k) or "").strip() for k in ("kind", "reason", "patient", "from", "to")}
    since, until = _day(shown["from"]), _day(shown["to"])
    flt = LetterFilter(
        kind=shown["kind"] or None,
        patient_id=shown["patient"] or None,
        reason_contains=shown["reason"] or None,
        since=datetime.combine(since, time.min, tzinfo=UTC) if since else None,
        until=datetime.combine(until + timedelta(days=1), time.min, tzinfo=UTC) if until else None,
    )
    return flt, shown


@dataclass(frozen=True, slots=True)
class Outcome:
    level: str  # success, error, pending
    text: str


def new_letters(letters: Iterable[StoredLetter]) -> dict[Position, DeadLetter]:
    """Letters by the position of the message they were made from."""
    return {
        (s.letter.source_topic, s.letter.source_partition, s.letter.source_offset): s.letter
        for s in letters
        if s.letter.source_partition is not None and s.letter.source_offset is not None
    }


def retry_outcome(row: Mapping[str, Any], rejected: Mapping[Position, DeadLetter]) -> Outcome:
    if row["state"] == "not_sent":
        return Outcome("error", "Not sent: Kafka did not take it. Try again.")
    if row["state"] == "requested":
        return Outcome("pending", "Sending…")
    updated: datetime | None = row.get("document_updated_at")
    if updated is not None and updated >= row["requested_at"]:
        if row["processing_status"] == "COMPLETE" and row["is_merged"]:
            return Outcome("success", f"Merged: version {row['version']}, {row['review_status']}.")
        if row["processing_status"] == "FAILED":
            return Outcome("error", f"Failed again: {row['error']}")
    position = (row["source_topic"], row["replay_partition"], row["replay_offset"])
    again = rejected.get(position)
    if again is not None:
        kind = KIND_LABELS.get(again.error_kind, again.error_kind)
        return Outcome("error", f"Dead-lettered again ({kind}): {again.reason}")
    return Outcome("pending", "Waiting for a worker to take it…")
