"""How an extractor reads a patient's name and birth date off a document: benign variants that a
careful normaliser (case, accents, punctuation, "Family, Given", middle names, honorifics, digits)
treats as the same name, and real mismatches that must be flagged."""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Sequence
from datetime import date

from schemas.events import HumanName

from .sample import FhirResource

_ACCENTED = {"a": "á", "e": "é", "i": "í", "o": "ó", "u": "ü", "A": "Á", "E": "É", "O": "Ö"}
_MIDDLES = ("J.", "A", "Lee", "Marie", "R.")


def record_name(patient: FhirResource) -> HumanName:
    """The official name of a FHIR Patient (the first one when none is marked official)."""
    names = patient.get("name") or [{}]
    name = next((n for n in names if n.get("use") == "official"), names[0])
    return HumanName(family=name.get("family"), given=list(name.get("given") or []))


def honorific(patient: FhirResource) -> str:
    for name in patient.get("name") or []:
        if name.get("prefix"):
            return str(name["prefix"][0])
    return "Mr." if patient.get("gender") == "male" else "Ms."


def _upper(name: HumanName, rng: random.Random, title: str) -> HumanName:
    return HumanName(family=(name.family or "").upper(), given=[g.upper() for g in name.given])


def _family_comma_given(name: HumanName, rng: random.Random, title: str) -> HumanName:
    # The extractor could not split "Wyman, Alfreda" and kept it as one string.
    return HumanName(family=f"{name.family}, {' '.join(name.given)}", given=[])


def _swapped(name: HumanName, rng: random.Random, title: str) -> HumanName:
    return HumanName(family=" ".join(name.given), given=[name.family or ""])


def _middle(name: HumanName, rng: random.Random, title: str) -> HumanName:
    if len(name.given) > 1:
        return HumanName(family=name.family, given=name.given[:1])
    return HumanName(family=name.family, given=[*name.given, rng.choice(_MIDDLES)])


def _accents(name: HumanName, rng: random.Random, title: str) -> HumanName:
    family = name.family or ""
    stripped = strip_accents(family)
    if stripped != family:
        return HumanName(family=stripped, given=[strip_accents(g) for g in name.given])
    # Synthea names are ASCII: add the accent an OCR or a foreign form would.
    index = next((i for i, ch in enumerate(family) if ch in _ACCENTED), None)
    if index is not None:
        family = family[:index] + _ACCENTED[family[index]] + family[index + 1 :]
    return HumanName(family=family, given=list(name.given))


def _title(name: HumanName, rng: random.Random, title: str) -> HumanName:
    given = list(name.given) or [""]
    return HumanName(family=name.family, given=[f"{title} {given[0]}", *given[1:]])


def _digits(name: HumanName, rng: random.Random, title: str) -> HumanName:
    # Raw Synthea output carries numeric suffixes such as "Wyman726".
    return HumanName(family=f"{name.family}{rng.randint(10, 999)}", given=list(name.given))


Variant = Callable[[HumanName, random.Random, str], HumanName]
BENIGN_VARIANTS: tuple[Variant, ...] = (
    _upper,
    _family_comma_given,
    _swapped,
    _middle,
    _accents,
    _title,
    _digits,
)


def benign_name(patient: FhirResource, rng: random.Random, *, exact_share: float) -> HumanName:
    """The record's name, or one of the variants; a fifth of the variants are also upper case."""
    name = record_name(patient)
    if rng.random() < exact_share:
        return name
    variant = rng.choice(BENIGN_VARIANTS)(name, rng, honorific(patient))
    if rng.random() < 0.2:
        variant = _upper(variant, rng, "")
    return variant


def others_with_distinct_names(everyone: Sequence[FhirResource]) -> list[list[FhirResource]]:
    """For each patient, the others sharing neither a given nor the family name with them: taking
    their name is a real mismatch, not a near-miss the similarity threshold might let through.
    Patients of the same name share one list (a spread sample repeats each name many times)."""

    def parts(p: FhirResource) -> frozenset[str]:
        name = record_name(p)
        return frozenset({(name.family or "").lower(), *(g.lower() for g in name.given)})

    names = [parts(p) for p in everyone]
    by_name: dict[frozenset[str], list[FhirResource]] = {}
    for own in names:
        if own not in by_name:
            # A name shares its family part (if only "") with itself: no one is their own other.
            pairs = zip(everyone, names, strict=True)
            by_name[own] = [o for o, theirs in pairs if not own & theirs]
    return [by_name[own] for own in names]


def wrong_birth_date(birth_date: date, rng: random.Random) -> date:
    """A day/month swap when that makes a different valid date, else a wrong year."""
    if birth_date.day <= 12 and birth_date.day != birth_date.month and rng.random() < 0.7:
        return date(birth_date.year, birth_date.day, birth_date.month)
    shift = rng.choice((-10, -2, -1, 1, 2, 10))
    day = min(birth_date.day, 28) if birth_date.month == 2 else birth_date.day
    return date(birth_date.year + shift, birth_date.month, day)


def strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
