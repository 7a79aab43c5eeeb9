"""How a birth date on a document compares with the record's, for what both of them say.

A partial date (1993, 1993-06) is compared only as far as it goes: 1993 agrees with 1993-06-21.
A difference is named when it looks like a slip: day and month swapped (1970-03-04 for
1970-04-03), two year digits transposed (1938 for 1983); otherwise the parts that differ.
"""

from __future__ import annotations

from dataclasses import dataclass

from schemas import FhirDate, MatchKind
from schemas.dates import DATE_PARTS, DatePart

_PRECISION_WORDS = {"year": "the year only", "month": "the year and month only"}


@dataclass(frozen=True, slots=True)
class BirthDateComparison:
    document: FhirDate
    record: FhirDate
    how: MatchKind  # exact, partial, swapped, transposed or different
    differing: tuple[DatePart, ...] = ()

    @property
    def agrees(self) -> bool:
        return self.how in (MatchKind.EXACT, MatchKind.PARTIAL)

    @property
    def agrees_to_the_day(self) -> bool:
        """Agrees, and both sides give the full date: strong enough to vouch for a name."""
        return self.how == MatchKind.EXACT and self.record.precision == "day"

    @property
    def explanation(self) -> str:
        """What kind of difference it is, and how far the dates were compared."""
        if self.how == MatchKind.SWAPPED:
            text = "day and month look swapped"
        elif self.how == MatchKind.TRANSPOSED:
            text = f"year digits look transposed ({self.document.year} vs {self.record.year})"
        elif self.agrees:
            text = "agrees"
        else:
            verb = "differs" if len(self.differing) == 1 else "differ"
            text = f"{_listed([f'the {part}' for part in self.differing])} {verb}"
        return f"{text}; {self.partial_note}" if self.partial_note else text

    @property
    def partial_note(self) -> str | None:
        if self.document.precision == self.record.precision:
            return None
        side, date = (
            ("document", self.document)
            if len(self.document.parts) < len(self.record.parts)
            else ("record", self.record)
        )
        return f"the {side} gives {_PRECISION_WORDS[date.precision]}"


def compare_birth_dates(
    document: FhirDate | None, record: FhirDate | None
) -> BirthDateComparison | None:
    """None when either side gives no birth date: nothing is said, so nothing conflicts."""
    if document is None or record is None:
        return None
    if document == record:  # Most documents: nothing more to work out.
        return BirthDateComparison(document, record, MatchKind.EXACT)
    stated = min(len(document.parts), len(record.parts))
    said, recorded = document.values[:stated], record.values[:stated]
    if said == recorded:
        return BirthDateComparison(document, record, MatchKind.PARTIAL)
    differing = tuple(
        part
        for part, mine, theirs in zip(DATE_PARTS[:stated], said, recorded, strict=True)
        if mine != theirs
    )
    if stated == 3 and said == (recorded[0], recorded[2], recorded[1]):
        return BirthDateComparison(document, record, MatchKind.SWAPPED, differing)
    if differing == ("year",) and _transposed(f"{said[0]:04d}", f"{recorded[0]:04d}"):
        return BirthDateComparison(document, record, MatchKind.TRANSPOSED, differing)
    return BirthDateComparison(document, record, MatchKind.DIFFERENT, differing)


def _transposed(first: str, second: str) -> bool:
    """Two neighbouring digits swapped and nothing else: 1983 and 1938."""
    positions = [i for i, (a, b) in enumerate(zip(first, second, strict=True)) if a != b]
    return (
        len(positions) == 2
        and positions[1] == positions[0] + 1
        and first[positions[0]] == second[positions[1]]
        and first[positions[1]] == second[positions[0]]
    )


def _listed(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
