"""Birth dates compared for what both sides say, and the kind of difference named."""

import pytest

from domain.birth_dates import compare_birth_dates
from schemas import FhirDate, MatchKind

D = FhirDate.parse


@pytest.mark.parametrize(
    ("document", "record", "how"),
    [
        ("1963-10-05", "1963-10-05", MatchKind.EXACT),
        ("1963", "1963-10-05", MatchKind.PARTIAL),
        ("1963-10", "1963-10-05", MatchKind.PARTIAL),
        ("1963-10-05", "1963-10", MatchKind.PARTIAL),  # the record may be partial too
        ("1963-10", "1963", MatchKind.PARTIAL),
        ("1963", "1963", MatchKind.EXACT),
    ],
)
def test_agreeing_as_far_as_both_say(document, record, how):
    comparison = compare_birth_dates(D(document), D(record))
    assert comparison is not None
    assert (comparison.how, comparison.agrees) == (how, True)


@pytest.mark.parametrize(
    ("document", "record", "how", "explanation"),
    [
        ("1980-08-07", "1980-07-08", MatchKind.SWAPPED, "day and month look swapped"),
        (
            "1938-06-21",
            "1983-06-21",
            MatchKind.TRANSPOSED,
            "year digits look transposed (1938 vs 1983)",
        ),
        (
            "1938",
            "1983-06-21",
            MatchKind.TRANSPOSED,
            "year digits look transposed (1938 vs 1983); the document gives the year only",
        ),
        ("1984-06-21", "1983-06-21", MatchKind.DIFFERENT, "the year differs"),
        ("1983-07-21", "1983-06-21", MatchKind.DIFFERENT, "the month differs"),
        ("1983-06-22", "1983-06-21", MatchKind.DIFFERENT, "the day differs"),
        ("1983-07-22", "1983-06-21", MatchKind.DIFFERENT, "the month and the day differ"),
        (
            "1984-07-22",
            "1983-06-21",
            MatchKind.DIFFERENT,
            "the year, the month and the day differ",
        ),
        (
            "1983-07",
            "1983-06-21",
            MatchKind.DIFFERENT,
            "the month differs; the document gives the year and month only",
        ),
        (
            "1983-06-21",
            "1984",
            MatchKind.DIFFERENT,
            "the year differs; the record gives the year only",
        ),
        # Not a swap: the day cannot be a month; nor a transposition: the month differs too.
        ("1980-07-13", "1980-07-31", MatchKind.DIFFERENT, "the day differs"),
        ("1938-07-21", "1983-06-21", MatchKind.DIFFERENT, "the year and the month differ"),
    ],
)
def test_differences_are_named(document, record, how, explanation):
    comparison = compare_birth_dates(D(document), D(record))
    assert comparison is not None
    assert (comparison.how, comparison.explanation) == (how, explanation)
    assert not comparison.agrees


@pytest.mark.parametrize(("document", "record"), [(None, "1970-04-03"), ("1970", None)])
def test_nothing_to_compare_when_one_side_is_silent(document, record):
    assert compare_birth_dates(document and D(document), record and D(record)) is None


def test_only_a_full_agreement_vouches_for_a_name():
    full = compare_birth_dates(D("1970-04-03"), D("1970-04-03"))
    year = compare_birth_dates(D("1970"), D("1970-04-03"))
    both_years = compare_birth_dates(D("1970"), D("1970"))
    assert full is not None and full.agrees_to_the_day
    assert year is not None and not year.agrees_to_the_day
    assert both_years is not None and not both_years.agrees_to_the_day
