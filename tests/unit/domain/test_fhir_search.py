"""Query parameters of the FHIR API: what is honoured, what is refused, what lenient ignores."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from domain.fhir_dates import Bounds, parse_interval
from domain.fhir_search import (
    MAX_COUNT,
    BadQuery,
    Reference,
    is_lenient,
    parse_query,
    parse_reference,
    search_params_for,
)

CONDITION = search_params_for("Condition")


def parse(query: str, accepted=CONDITION, lenient=False):
    pairs = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    return parse_query(pairs, accepted, lenient=lenient)


def test_references_in_every_form():
    assert parse_reference("Patient/p1") == Reference("Patient", "p1")
    assert parse_reference("p1") == Reference(None, "p1")
    assert parse_reference("http://x/fhir/Condition/c1/_history/2") == Reference(
        "Condition", "c1", "2"
    )


def test_patient_and_subject_are_the_patient_compartment():
    query = parse("patient=Patient/a,b&subject=Group/g")
    assert query.patients == [("a", "b"), ()]  # a Group matches no patient


def test_source_is_the_document():
    assert parse("_source=document_d-1,elsewhere").documents == [("d-1",)]


def test_paging_and_sort():
    query = parse(f"_count={MAX_COUNT + 10}&_offset=5&_sort=-_lastUpdated&_summary=count")
    assert (query.count, query.offset, query.sort, query.summary_count) == (
        MAX_COUNT,
        5,
        ("last_updated", True),
        True,
    )
    assert [name for name, _ in query.used] == ["_count", "_offset", "_sort", "_summary"]


@pytest.mark.parametrize(
    ("query", "problem"),
    [
        ("colour=red", "unknown parameter 'colour'"),
        ("patient:missing=true", "modifier"),
        ("_count=x", "whole number"),
        ("_count=-2", "0 or more"),
        ("_sort=code", "_sort"),
        ("_summary=true", "_summary"),
        ("_count=1&_count=2", "once"),
        ("_lastUpdated=ne2026", "not supported"),
        ("_lastUpdated=ge2026-13", "not a valid date"),
        ("_lastUpdated=yesterday", "not a FHIR date"),
        ("patient=a\x00b", "NUL"),
    ],
)
def test_refused_with_a_reason(query, problem):
    with pytest.raises(BadQuery) as refused:
        parse(query)
    assert refused.value.status == 400
    assert problem in str(refused.value)


def test_another_format_is_not_acceptable():
    with pytest.raises(BadQuery) as refused:
        parse("_format=xml")
    assert refused.value.status == 406
    assert parse("_format=application/fhir+json&_pretty=true").used == []


def test_lenient_ignores_unknown_parameters_only():
    assert parse("colour=red&_count=3", lenient=True).used == [("_count", "3")]
    with pytest.raises(BadQuery):
        parse("colour=red&_count=x", lenient=True)
    assert is_lenient("respond-async, handling=lenient")
    assert not is_lenient("handling=strict") and not is_lenient(None)


def test_provenance_takes_target_and_patient_not_source():
    accepted = search_params_for("Provenance")
    assert parse("target=Condition/c&patient=p", accepted).targets == [
        (Reference("Condition", "c"),)
    ]
    with pytest.raises(BadQuery):
        parse("_source=document_d", accepted)


def test_dates_are_intervals_of_their_precision():
    assert parse_interval("2026") == parse_interval("2026-01-01").__class__(
        datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    )
    december = parse_interval("2026-12")
    assert december.end == datetime(2027, 1, 1, tzinfo=UTC)
    moment = parse_interval("2026-11-22T10:00:05.5+01:00")
    assert moment.start == datetime(2026, 11, 22, 9, 0, 5, 500000, tzinfo=UTC)
    assert (moment.end - moment.start).total_seconds() == 0.1


def test_bounds_narrow_with_every_prefix():
    day = "2026-11-22"
    both = Bounds().narrowed(f"ge{day}").narrowed("le2026-11-30")
    assert both.after == datetime(2026, 11, 22, tzinfo=UTC)
    assert both.before == datetime(2026, 12, 1, tzinfo=UTC)
    assert Bounds().narrowed(day) == Bounds(
        datetime(2026, 11, 22, tzinfo=UTC), datetime(2026, 11, 23, tzinfo=UTC)
    )
    assert Bounds().narrowed(f"gt{day}").after == datetime(2026, 11, 23, tzinfo=UTC)
    assert Bounds().narrowed(f"lt{day}").before == datetime(2026, 11, 22, tzinfo=UTC)
    # ANDed: the narrower bound wins, whichever comes first.
    assert Bounds().narrowed("le2026-12-31").narrowed(f"le{day}").before == both.before.replace(
        day=23, month=11
    )
