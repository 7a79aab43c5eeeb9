"""Reading names into tokens: honest spellings of one name normalise alike, in any script."""

import pytest

from domain.names import (
    document_readings,
    has_name,
    in_another_script,
    normalised_tokens,
    record_readings,
)
from domain.patients import PatientRecord, RecordName
from schemas import FhirDate, HumanName


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Mr. José-Luis O'Brien190", ("jose", "luis", "obrien")),
        ("Søren Æbelø Straße", ("soren", "aebelo", "strasse")),
        ("Łukasz – Nowak", ("lukasz", "nowak")),
        ("Zoë D’Angelo", ("zoe", "dangelo")),
        ("Dr. J.Q. Smith, Jr., M.D.", ("j", "q", "smith")),
        ("Riojas927", ("riojas",)),
        ("Wyman née Deckow", ("wyman", "deckow")),
        # Digits inside a word are an OCR's, kept for the look-alike check.
        ("J0hn", ("j0hn",)),
        # Other scripts, transliterated; Han characters are a syllable each.
        ("Иванов", ("ivanov",)),
        ("Μάρκος", ("markos",)),
        ("王小明", ("wang", "xiao", "ming")),
        ("Nguyễn Văn An", ("nguyen", "van", "an")),
    ],
)
def test_normalised_tokens(text, tokens):
    assert normalised_tokens(text) == tokens


@pytest.mark.parametrize(
    ("text", "other_script"),
    [("Иванов", True), ("王", True), ("José", False), ("Søren", False), ("Smith", False)],
)
def test_other_scripts_are_told_from_accents(text, other_script):
    assert in_another_script(text) is other_script


@pytest.mark.parametrize(
    ("name", "says_something"),
    [
        (None, False),
        (HumanName(), False),
        (HumanName(family="", given=["  "]), False),
        (HumanName(family="Mr."), False),
        (HumanName(given=["Alfreda"]), True),
        (HumanName(family="Wyman"), True),
    ],
)
def test_has_name(name, says_something):
    assert has_name(name) is says_something


def test_document_readings_as_written_then_swapped_or_split():
    as_written, swapped = document_readings(HumanName(family="Smith, John Q"))
    assert (as_written.family, as_written.given) == (("smith",), ("john", "q"))
    assert (swapped.family, swapped.given) == (("john", "q"), ("smith",))
    last, first = document_readings(HumanName(family="John Q Smith"))
    assert (last.family, first.family) == (("smith",), ("john",))


def test_record_readings_cover_every_name_and_married_with_maiden():
    record = PatientRecord(
        "p",
        "Wyman",
        ("Alfreda",),
        FhirDate(1980, 10, 28),
        (RecordName("Deckow", ("Alfreda",), "maiden"), RecordName(None, ("Freda",), "nickname")),
    )
    readings = [(r.family, r.given, r.use) for r in record_readings(record)]
    assert readings == [
        (("wyman",), ("alfreda",), None),
        (("deckow",), ("alfreda",), "maiden"),
        # A nickname gives only the given name: the family is the official one.
        (("wyman",), ("freda",), "nickname"),
        (("wyman", "deckow"), ("alfreda",), "official and maiden"),
    ]
