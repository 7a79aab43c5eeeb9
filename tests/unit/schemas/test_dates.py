"""FHIR `date` values: partial birth dates are valid input and stay FHIR strings in JSON."""

from datetime import UTC, date, datetime

import pytest
from pydantic import ValidationError

from schemas import FhirDate, PatientDemographics


@pytest.mark.parametrize(
    ("text", "value", "precision"),
    [
        ("1993", FhirDate(1993), "year"),
        ("1993-06", FhirDate(1993, 6), "month"),
        ("1993-06-21", FhirDate(1993, 6, 21), "day"),
        ("2000-02-29", FhirDate(2000, 2, 29), "day"),
    ],
)
def test_partial_and_full_dates_round_trip(text, value, precision):
    assert FhirDate.parse(text) == value
    assert str(value) == text
    assert value.precision == precision
    demographics = PatientDemographics.model_validate({"birth_date": text})
    assert demographics.birth_date == value
    assert demographics.model_dump(mode="json")["birth_date"] == text
    assert PatientDemographics.model_validate_json(demographics.model_dump_json()) == demographics


@pytest.mark.parametrize(
    "text", ["93", "1993-6", "1993-13", "1993-02-30", "1900-02-29", "1993-06-21T00:00:00", ""]
)
def test_anything_else_is_refused(text):
    with pytest.raises(ValidationError, match="birth_date"):
        PatientDemographics.model_validate({"birth_date": text})


def test_python_dates_are_accepted_and_datetimes_refused():
    assert PatientDemographics(birth_date=date(1970, 4, 3)).birth_date == FhirDate(1970, 4, 3)
    with pytest.raises(ValidationError, match="no time of day"):
        PatientDemographics.model_validate({"birth_date": datetime(1970, 4, 3, tzinfo=UTC)})
    with pytest.raises(ValidationError, match="not int"):
        PatientDemographics.model_validate({"birth_date": 1993})


def test_a_day_needs_a_month():
    with pytest.raises(ValueError, match="needs a month"):
        FhirDate(1993, None, 21)


def test_comparison_helpers():
    full, month, year = FhirDate(1993, 6, 21), FhirDate(1993, 6), FhirDate(1993)
    assert full.parts == ("year", "month", "day")
    assert year.parts == ("year",)
    assert full.as_date() == date(1993, 6, 21)
    assert month.as_date() is None
    assert full.truncated("month") == month
    assert year.truncated("day") == year  # never more precise than it is
    assert full.common_precision(year) == year.common_precision(full) == "year"
    assert full.agrees_with(year)
    assert full.agrees_with(month)
    assert not full.agrees_with(FhirDate(1993, 7))
    assert not month.agrees_with(FhirDate(1994))


def test_json_schema_is_the_fhir_pattern():
    schema = PatientDemographics.model_json_schema()["properties"]["birth_date"]["anyOf"][0]
    assert schema["type"] == "string"
    assert schema["pattern"].startswith("^([0-9]")
