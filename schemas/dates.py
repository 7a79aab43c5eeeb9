"""FHIR `date`: a year, a year and month, or a full date ("1993", "1993-06", "1993-06-15").

Birth dates on documents and in patient records may be partial, as FHIR allows. `FhirDate` keeps
what was said and no more; JSON carries it as the FHIR string.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

DatePart = Literal["year", "month", "day"]
DATE_PARTS: tuple[DatePart, ...] = ("year", "month", "day")

# The FHIR R4 `date` regular expression, anchored.
FHIR_DATE_PATTERN = (
    r"^([0-9]([0-9]([0-9][1-9]|[1-9]0)|[1-9]00)|[1-9]000)"
    r"(-(0[1-9]|1[0-2])(-(0[1-9]|[1-2][0-9]|3[0-1]))?)?$"
)
_FHIR_DATE = re.compile(FHIR_DATE_PATTERN)


@dataclass(frozen=True, slots=True)
class FhirDate:
    """A possibly partial calendar date; `day` needs `month`, and a full date must exist."""

    year: int
    month: int | None = None
    day: int | None = None

    def __post_init__(self) -> None:
        if self.day is not None and self.month is None:
            raise ValueError("a date with a day needs a month")
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} is not 1-12")
        if not 1 <= self.year <= 9999:
            raise ValueError(f"year {self.year} is not 1-9999")
        if self.month is not None and self.day is not None:
            date(self.year, self.month, self.day)  # Raises for 1970-02-30.

    @classmethod
    def parse(cls, text: str) -> FhirDate:
        """From "YYYY", "YYYY-MM" or "YYYY-MM-DD"; ValueError for anything else."""
        if not _FHIR_DATE.match(text):
            raise ValueError(f"{text!r} is not a FHIR date (YYYY, YYYY-MM or YYYY-MM-DD)")
        try:
            return cls(*(int(piece) for piece in text.split("-")))
        except ValueError as error:
            raise ValueError(f"{text!r} is not a valid date: {error}") from None

    @classmethod
    def of(cls, day: date) -> FhirDate:
        return cls(day.year, day.month, day.day)

    @property
    def precision(self) -> DatePart:
        if self.day is not None:
            return "day"
        return "year" if self.month is None else "month"

    @property
    def parts(self) -> tuple[DatePart, ...]:
        """The parts this date states, from the year down."""
        return DATE_PARTS[: self._stated]

    @property
    def values(self) -> tuple[int, ...]:
        """The stated parts' values: (1993, 6) for 1993-06."""
        return (self.year, self.month or 0, self.day or 0)[: self._stated]

    @property
    def _stated(self) -> int:
        return 1 if self.month is None else 2 if self.day is None else 3

    def as_date(self) -> date | None:
        """The calendar date when the day is known; None for a partial date."""
        if self.month is None or self.day is None:
            return None
        return date(self.year, self.month, self.day)

    def truncated(self, precision: DatePart) -> FhirDate:
        """This date said no more precisely than `precision` (never more precisely than it is)."""
        keep = min(self._stated, DATE_PARTS.index(precision) + 1)
        return FhirDate(self.year, self.month if keep > 1 else None, self.day if keep > 2 else None)

    def common_precision(self, other: FhirDate) -> DatePart:
        """The finest part both dates state."""
        return DATE_PARTS[min(self._stated, other._stated) - 1]

    def agrees_with(self, other: FhirDate) -> bool:
        """Equal in every part both dates state: 1993 agrees with 1993-06-15, 1993-07 does not."""
        stated = min(self._stated, other._stated)
        return self.values[:stated] == other.values[:stated]

    def __str__(self) -> str:
        text = f"{self.year:04d}"
        if self.month is not None:
            text += f"-{self.month:02d}"
        if self.day is not None:
            text += f"-{self.day:02d}"
        return text

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            _validate,
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "type": "string",
            "description": "A FHIR date: YYYY, YYYY-MM or YYYY-MM-DD",
            "pattern": FHIR_DATE_PATTERN,
            "examples": ["1993", "1993-06", "1993-06-21"],
        }


def _validate(value: object) -> FhirDate:
    if isinstance(value, FhirDate):
        return value
    if isinstance(value, datetime):  # A datetime is a date too: refuse it rather than cut it.
        raise ValueError("a FHIR date has no time of day")
    if isinstance(value, date):
        return FhirDate.of(value)
    if isinstance(value, str):
        return FhirDate.parse(value)
    raise ValueError(f"a FHIR date is a string such as '1993-06-15', not {type(value).__name__}")
