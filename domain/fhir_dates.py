"""FHIR date search values (`_lastUpdated=ge2026-11`, `_since=...`) as half-open UTC intervals."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_DATE = re.compile(
    r"(?P<year>\d{4})(?:-(?P<month>\d{2})(?:-(?P<day>\d{2})"
    r"(?:T(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:\.(?P<fraction>\d{1,6}))?)?"
    r"(?P<zone>Z|[+-]\d{2}:\d{2})?)?)?)?"
)
PREFIXES = ("eq", "ge", "gt", "le", "lt")
UNSUPPORTED_PREFIXES = ("ne", "sa", "eb", "ap")


class BadDate(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Interval:
    """[start, end): the moments a FHIR date value of some precision stands for."""

    start: datetime
    end: datetime


def _next_month(year: int, month: int) -> datetime:
    return datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)


def parse_interval(text: str) -> Interval:
    """`2026`, `2026-11`, `2026-11-22`, `2026-11-22T10:00Z`, `...T10:00:05.5+01:00`; a time
    without zone is read as UTC."""
    found = _DATE.fullmatch(text)
    if found is None:
        raise BadDate(f"{text!r} is not a FHIR date (YYYY, YYYY-MM, YYYY-MM-DD or a dateTime)")
    g = found.groupdict()
    try:
        year = int(g["year"])
        if g["month"] is None:
            return Interval(datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC))
        month = int(g["month"])
        if g["day"] is None:
            return Interval(datetime(year, month, 1, tzinfo=UTC), _next_month(year, month))
        day = int(g["day"])
        if g["hour"] is None:
            start = datetime(year, month, day, tzinfo=UTC)
            return Interval(start, start + timedelta(days=1))
        fraction = g["fraction"] or ""
        moment = datetime(
            year,
            month,
            day,
            int(g["hour"]),
            int(g["minute"]),
            int(g["second"] or 0),
            int(fraction.ljust(6, "0")) if fraction else 0,
            tzinfo=UTC,
        )
    except ValueError as exc:
        raise BadDate(f"{text!r} is not a valid date: {exc}") from None
    zone = g["zone"]
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        moment -= sign * timedelta(hours=hours, minutes=minutes)
    if g["second"] is None:
        step = timedelta(minutes=1)
    elif fraction:
        step = timedelta(microseconds=10 ** (6 - len(fraction)))
    else:
        step = timedelta(seconds=1)
    return Interval(moment, moment + step)


@dataclass(frozen=True, slots=True)
class Bounds:
    """after <= t < before; None: unbounded."""

    after: datetime | None = None
    before: datetime | None = None

    def narrowed(self, prefixed: str) -> Bounds:
        """These bounds AND one `[prefix]date` value."""
        prefix = prefixed[:2] if prefixed[:2].isalpha() else "eq"
        if prefix in UNSUPPORTED_PREFIXES:
            raise BadDate(f"the prefix {prefix!r} is not supported (use eq, ge, gt, le or lt)")
        if prefix not in PREFIXES:
            raise BadDate(
                f"{prefixed!r} is not a FHIR date with an optional prefix eq, ge, gt, le or lt"
            )
        interval = parse_interval(prefixed[2:] if prefixed[:2].isalpha() else prefixed)
        after, before = {
            "eq": (interval.start, interval.end),
            "ge": (interval.start, None),
            "gt": (interval.end, None),
            "le": (None, interval.end),
            "lt": (None, interval.start),
        }[prefix]
        return Bounds(
            after if self.after is None or (after and after > self.after) else self.after,
            before if self.before is None or (before and before < self.before) else self.before,
        )
