"""Name normalisation and fuzzy comparison: benign variants pass, other people do not."""

from datetime import date

import pytest

from domain.names import (
    compare_names,
    describe_name_comparison,
    name_similarity,
    normalised_tokens,
)
from domain.patients import PatientRecord
from schemas import HumanName

JOHN_QUINCY_SMITH = PatientRecord("p1", "Smith", ("John", "Quincy"), date(1970, 4, 3))


def name(family: str | None, *given: str) -> HumanName:
    return HumanName(family=family, given=list(given))


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Mr. José-Luis O'Brien190", ("jose", "luis", "obrien")),
        ("Søren Æbelø Straße", ("soren", "aebelo", "strasse")),
        ("Łukasz – Nowak", ("lukasz", "nowak")),
        ("Zoë D’Angelo", ("zoe", "dangelo")),
        ("Dr. J.Q. Smith, Jr., M.D.", ("j", "q", "smith")),
        ("Riojas927", ("riojas",)),
    ],
)
def test_normalised_tokens(text, tokens):
    assert normalised_tokens(text) == tokens


@pytest.mark.parametrize(
    "document",
    [
        name("Smith", "John"),
        name("SMITH", "john"),
        name("Smith", "Jon"),  # one typo in the given name
        name("Smyth", "Jon"),  # one typo in each, exactly at 80
        name("Smith, John Q"),  # "Family, Given" in one string
        name("John", "Smith"),  # family and given swapped
        name(None, "John", "Smith"),
        name("John Quincy Smith"),
        name("Smith", "J.", "Q."),  # initials
        name("Smith", "J.Q."),
        name("Smith927", "John190"),  # Synthea digits
        name("Smith", "Mr.", "John"),
        name("Mr. John Smith Jr."),
    ],
)
def test_benign_variants_match(document):
    assert name_similarity(document, JOHN_QUINCY_SMITH) >= 80.0


def test_accents_and_compound_family_names_match():
    record = PatientRecord("p2", "García López", ("José",), None)
    for document in (
        name("Garcia Lopez", "Jose"),
        name("Garcia-Lopez", "JOSÉ"),
        name("Garcia", "Jose"),
    ):
        assert name_similarity(document, record) == 100.0
    assert (
        name_similarity(
            name("De la Garza", "Marcos"), PatientRecord("p", "Delagarza", ("Marcos",), None)
        )
        == 100.0
    )


def test_record_middle_name_absent_from_document():
    record = PatientRecord("p3", "Smith", ("John",), None)
    assert name_similarity(name("Smith", "John", "Quincy"), record) == 100.0
    assert name_similarity(name("Smith", "J."), record) == 100.0


@pytest.mark.parametrize(
    "document",
    [
        name("Garcia", "Maria"),  # another person
        name("Brown", "John"),  # same given name, another family
        name("Smithers", "John"),
        name("Smith", "Mary"),  # same family, another given name
        name("Smith", "K."),  # initial of another given name
        name("Brown, John"),
        name("John Brown"),
    ],
)
def test_real_mismatches_score_below_80(document):
    assert name_similarity(document, JOHN_QUINCY_SMITH) < 80.0


@pytest.mark.parametrize("document", [None, name(None), name("", "  "), name("Mr.")])
def test_nothing_to_compare(document):
    assert compare_names(document, JOHN_QUINCY_SMITH) is None
    assert name_similarity(document, JOHN_QUINCY_SMITH) == 100.0


def test_record_without_name_has_nothing_to_compare():
    assert compare_names(name("Smith", "John"), PatientRecord("p", None, (), None)) is None


def test_description_names_the_differing_part():
    document = name("Brown", "John")
    comparison = compare_names(document, JOHN_QUINCY_SMITH)
    assert comparison is not None
    assert describe_name_comparison(document, JOHN_QUINCY_SMITH, comparison, 80.0) == (
        f"Name on the document 'John Brown' matches the record 'John Quincy Smith' at "
        f"{comparison.score:.0f} % (threshold 80 %): the family names differ"
    )


def test_description_never_rounds_a_score_up_to_the_threshold():
    document = name("Smith", "Jhon")
    comparison = compare_names(document, JOHN_QUINCY_SMITH)
    assert comparison is not None
    text = describe_name_comparison(document, JOHN_QUINCY_SMITH, comparison, 75.4)
    assert "at 75.0 % (threshold 75.4 %): the first given names differ" in text
