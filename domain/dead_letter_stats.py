"""Dead-letter statistics (pure): counts per kind and per day, for the DLQ page, GET
/api/dlq/stats and `optimerge dlq stats` (docs/contract.md#dead-letters)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from schemas import DeadLetter


@dataclass(frozen=True, slots=True)
class DeadLetterStats:
    total: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    by_day: dict[date, dict[str, int]] = field(default_factory=dict)
    by_source: dict[str, int] = field(default_factory=dict)
    oldest: datetime | None = None
    newest: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "by_kind": self.by_kind,
            "by_day": {d.isoformat(): kinds for d, kinds in self.by_day.items()},
            "by_source": self.by_source,
            "oldest": self.oldest.isoformat() if self.oldest else None,
            "newest": self.newest.isoformat() if self.newest else None,
        }


def dead_letter_stats(letters: Iterable[DeadLetter]) -> DeadLetterStats:
    by_kind: Counter[str] = Counter()
    by_source: Counter[str] = Counter()
    by_day: defaultdict[date, Counter[str]] = defaultdict(Counter)
    oldest: datetime | None = None
    newest: datetime | None = None
    total = 0
    for letter in letters:
        total += 1
        by_kind[letter.error_kind] += 1
        by_source[letter.source_topic] += 1
        by_day[letter.at.date()][letter.error_kind] += 1
        oldest = letter.at if oldest is None else min(oldest, letter.at)
        newest = letter.at if newest is None else max(newest, letter.at)
    return DeadLetterStats(
        total=total,
        by_kind=dict(sorted(by_kind.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_day={d: dict(sorted(by_day[d].items())) for d in sorted(by_day)},
        by_source=dict(sorted(by_source.items())),
        oldest=oldest,
        newest=newest,
    )
