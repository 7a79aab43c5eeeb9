from datetime import date
from urllib.parse import parse_qsl

from storage.audit import AuditFilters
from storage.queue import FlaggedFilters
from webapp.filters import (
    audit_query,
    flagged_query,
    is_filtered,
    parse_audit,
    parse_flagged,
    parse_page,
)


def test_no_filters():
    parsed = parse_flagged({})
    assert parsed.filters == FlaggedFilters()
    assert parsed.page == 1 and parsed.errors == []
    assert not is_filtered(parsed.filters)


def test_all_filters_and_the_query_string_round_trip():
    query = {
        "from": "2026-11-01",
        "to": "2026-11-22",
        "reason": "name_mismatch",
        "patient": "  Smith,   John ",
        "page": "3",
    }
    parsed = parse_flagged(query)
    assert parsed.filters == FlaggedFilters(
        since=date(2026, 11, 1),
        until=date(2026, 11, 22),
        reason="name_mismatch",
        patient="Smith, John",
    )
    assert parsed.page == 3 and parsed.errors == []
    again = parse_flagged(dict(parse_qsl(flagged_query(parsed.filters, 3))))
    assert again.filters == parsed.filters and again.page == 3


def test_bad_values_are_ignored_and_said_so():
    parsed = parse_flagged({"from": "22/11/2026", "reason": "drop_table"})
    assert parsed.filters == FlaggedFilters()
    assert any("From" in e and "2026-11-22" in e for e in parsed.errors)
    assert any("drop_table" in e for e in parsed.errors)


def test_dates_in_the_wrong_order_are_swapped():
    parsed = parse_flagged({"from": "2026-11-22", "to": "2026-11-01"})
    assert (parsed.filters.since, parsed.filters.until) == (date(2026, 11, 1), date(2026, 11, 22))
    assert parsed.errors


def test_page_numbers_are_clamped():
    assert parse_page({"page": "0"}) == 1
    assert parse_page({"page": "-4"}) == 1
    assert parse_page({"page": "x"}) == 1
    assert parse_page({"page": "10000000"}) == 100_000


def test_audit_filters():
    parsed = parse_audit(
        {"actor": "ana", "action": "rollback", "document": "d-1", "to": "2026-11-23"}
    )
    assert parsed.filters == AuditFilters(
        document="d-1", actor="ana", action="rollback", until=date(2026, 11, 23)
    )
    assert (
        audit_query(parsed.filters, 2)
        == "document=d-1&actor=ana&action=rollback&to=2026-11-23&page=2"
    )
    assert is_filtered(parsed.filters)
