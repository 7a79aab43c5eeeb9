from datetime import UTC, date, datetime, timedelta

from storage.queue import QueueSummary
from webapp.queue_view import flagged_row, reasons_of, widget
from webapp.settings import AppSettings

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SETTINGS = AppSettings(secret_key=None)


def test_widget_for_an_empty_queue():
    shown = widget(QueueSummary(0, None, 0), NOW, SETTINGS)
    assert (shown.count, shown.band, shown.oldest_age) == (0, "ok", None)


def test_widget_is_red_when_the_oldest_waits_more_than_seven_days():
    summary = QueueSummary(
        12,
        NOW - timedelta(days=8),
        2,
        {"low_confidence": 7, "name_mismatch": 3, "a": 1, "b": 1, "c": 1},
    )
    shown = widget(summary, NOW, SETTINGS)
    assert shown.band == "overdue" and shown.oldest_age == "8 days" and shown.overdue == 2
    assert shown.top_reasons == [("low_confidence", 7), ("name_mismatch", 3), ("a", 1), ("b", 1)]
    assert widget(QueueSummary(1, NOW - timedelta(days=3), 0), NOW, SETTINGS).band == "warn"


def test_identity_reasons_come_first():
    reasons = reasons_of(
        [
            {"rule": "low_confidence", "text": "low"},
            {"rule": "name_mismatch", "text": "name"},
            {"rule": "merge_error", "text": "boom"},
            "not a reason",
        ]
    )
    assert [r.rule for r in reasons] == ["merge_error", "name_mismatch", "low_confidence"]
    assert [r.category for r in reasons] == ["error", "identity", "quality"]


def test_flagged_row_for_an_unknown_patient_shows_the_name_as_read():
    row = flagged_row(
        {
            "document_id": "doc 1/2",
            "patient_id": "p-9",
            "version": 1,
            "flag_reasons": [{"rule": "unknown_patient", "text": "No patient record"}],
            "confidence": 0.7,
            "model_name": "extractor-large",
            "model_version": "2026.10",
            "is_fallback": False,
            "resource_count": 3,
            "created_at": NOW - timedelta(hours=5),
            "title": None,
            "document_type": None,
            "patient_as_read": {"name": {"family": "Smith", "given": ["John", "Q"]}},
            "family": None,
            "given": [],
            "birth_date": date(1970, 4, 3),
            "patient_known": False,
        },
        NOW,
        SETTINGS,
    )
    assert row.patient_name == "John Q Smith" and not row.patient_known
    assert row.url == "/documents/doc%201%2F2/verify/"
    assert (row.title, row.age, row.band, row.model) == (
        "Untitled document",
        "5 h",
        "ok",
        "extractor-large 2026.10",
    )
