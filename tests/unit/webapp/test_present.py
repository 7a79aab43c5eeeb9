from datetime import UTC, datetime, timedelta

import pytest

from webapp.present import (
    Pagination,
    age_band,
    describe_outcome,
    format_dt,
    humanize_age,
    resource_summary,
)


@pytest.mark.parametrize(
    ("age", "band"),
    [
        (timedelta(hours=3), "ok"),
        (timedelta(days=2), "ok"),
        (timedelta(days=2, seconds=1), "warn"),
        (timedelta(days=7), "warn"),
        (timedelta(days=7, seconds=1), "overdue"),
        (timedelta(days=40), "overdue"),
    ],
)
def test_age_band_turns_red_past_seven_days(age, band):
    assert age_band(age, warn_after_days=2, overdue_after_days=7) == band


@pytest.mark.parametrize(
    ("age", "text"),
    [
        (timedelta(seconds=-5), "just now"),
        (timedelta(seconds=59), "just now"),
        (timedelta(minutes=5), "5 min"),
        (timedelta(hours=1), "1 h"),
        (timedelta(hours=47), "47 h"),
        (timedelta(days=9, hours=3), "9 days"),
    ],
)
def test_humanize_age(age, text):
    assert humanize_age(age) == text


def test_format_dt():
    assert format_dt(datetime(2026, 11, 22, 10, 5, tzinfo=UTC)) == "2026-11-22 10:05 UTC"
    assert format_dt(None) == "–"


def test_resource_summary_reads_code_value_and_date():
    observation = {
        "resourceType": "Observation",
        "code": {"coding": [{"display": "Body Weight"}]},
        "valueQuantity": {"value": 62.2312, "unit": "kg"},
        "effectiveDateTime": "2013-06-10T01:02:03Z",
    }
    assert resource_summary(observation) == "Body Weight · 62.23 kg · 2013-06-10"
    assert resource_summary({"resourceType": "Condition"}) == "(no code or text)"
    procedure = {"code": {"text": "Appendectomy"}, "performedPeriod": {"start": "2001-02-03T00:00"}}
    assert resource_summary(procedure) == "Appendectomy · 2001-02-03"


def test_outcomes_say_what_happened_and_what_to_do():
    pending = describe_outcome("rollback", None, None, None)
    assert pending.level == "pending" and "Remove from record" in pending.title
    done = describe_outcome("rollback", "applied", None, 3)
    assert (
        done.level == "success" and "other documents" in done.detail and "Version 3" in done.detail
    )
    conflict = describe_outcome(
        "mark_correct", "conflict", "expected version 1, current version 2", 2
    )
    assert conflict.level == "error"
    assert "expected version 1, current version 2" in conflict.detail
    assert "act again" in conflict.detail
    assert "your action" in describe_outcome("<script>", None, None, None).title


def test_pagination():
    pages = Pagination(page=6, per_page=10, total=200)
    assert (pages.pages, pages.offset, pages.first_item, pages.last_item) == (20, 50, 51, 60)
    assert pages.window() == [1, None, 4, 5, 6, 7, 8, None, 20]
    assert Pagination(1, 10, 0).pages == 1 and Pagination(1, 10, 0).first_item == 0
    assert Pagination(2, 10, 15).window() == [1, 2]
