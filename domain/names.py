"""Reading a written name into comparable tokens, on the document and in the patient record.

Normalising drops what differs between honest spellings of one name: case, accents (José/Jose,
Søren/Soren, Straße/Strasse), other scripts (Иванов/Ivanov, by anyascii), punctuation, hyphens
and apostrophes (O'Brien/OBrien), Synthea's trailing digits (Alejandro190), honorifics (Mr., Dr.,
Jr., M.D.). A name is then read every plausible way: "Family, Given" in one string, family and
given swapped, the whole name in one field; a record has a reading per name it lists (official,
maiden, old...) and one with its married and maiden family names together.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii

from domain.patients import PatientRecord, RecordName
from schemas import HumanName

# Prefixes, then suffixes; nothing that is also a common name (Don, Do, V). "née" and "geb."
# introduce a maiden name: the name after them is kept.
_HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "master", "dr", "prof", "sir", "dame", "rev", "fr", "mme"}
    | {"mlle", "jr", "jnr", "sr", "snr", "ii", "iii", "iv", "md", "phd", "dds", "esq", "rn"}
    | {"nee", "geb", "born"}
)
_APOSTROPHES = "'`"  # anyascii has already turned ’ ‘ ʼ ´ into these
# Built once: str.translate beats a regex here, and nothing compiles in the hot path.
_FOLD_TABLE = str.maketrans(
    {
        **dict.fromkeys(_APOSTROPHES),
        **dict.fromkeys(string.punctuation.replace(".", "").replace("'", "").replace("`", ""), " "),
    }
)
# Han characters and Hangul syllables are one syllable each; anyascii runs them together.
_SYLLABLE_SCRIPTS = ("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "HANGUL SYLLABLE")


@dataclass(frozen=True, slots=True)
class Reading:
    """One way of reading a written name: normalised family and given tokens, what each part
    looked like as written (for the reviewer), and which of the record's names it is."""

    family: tuple[str, ...]
    given: tuple[str, ...]
    family_shown: str
    given_shown: str
    use: str | None = None
    other_script: bool = False  # written in a script other than Latin, and transliterated

    @property
    def shown(self) -> str:
        return display_name(self.family_shown, (self.given_shown,))


def display_name(family: str | None, given: Sequence[str]) -> str:
    return " ".join(part.strip() for part in (*given, family or "") if part.strip())


def has_name(name: HumanName | None) -> bool:
    """Whether a document's name says anything once honorifics and punctuation are gone."""
    if name is None:
        return False
    return bool(normalised_tokens(name.family or "") or normalised_tokens(" ".join(name.given)))


@lru_cache(maxsize=65536)
def normalised_tokens(text: str) -> tuple[str, ...]:
    """Lower-case ASCII name tokens without honorifics or trailing digits: "Mr. José-Luis
    O'Brien190" -> ("jose", "luis", "obrien"); dotted initials split: "J.Q." -> ("j", "q").
    Digits inside a word stay, for the OCR check: "J0hn" -> ("j0hn",)."""
    if not text.isascii():
        text = "".join(_ascii(char) for char in text)
    folded = text.casefold().translate(_FOLD_TABLE)
    tokens: list[str] = []
    for word in folded.split():
        if word.replace(".", "").strip(string.digits) in _HONORIFICS:  # "M.D." as well as "MD"
            continue
        tokens.extend(
            token for part in word.split(".") if (token := part.strip(string.digits)).isalnum()
        )
    return tuple(tokens)


@lru_cache(maxsize=65536)
def in_another_script(text: str) -> bool:
    """Whether any letter is outside the Latin script (Cyrillic, Greek, Han, Arabic...)."""
    return not text.isascii() and any(
        char.isalpha() and not unicodedata.name(char, "LATIN").startswith("LATIN") for char in text
    )


@lru_cache(maxsize=4096)
def _ascii(char: str) -> str:
    spelled = anyascii(char)
    if unicodedata.name(char, "").startswith(_SYLLABLE_SCRIPTS):
        return f" {spelled} "
    return spelled


def document_readings(name: HumanName) -> tuple[Reading, ...]:
    """The as-written reading first, then family and given swapped (one side swapped is enough)."""
    return _document_readings(name.family, tuple(name.given))


@lru_cache(maxsize=65536)
def _document_readings(family: str | None, given: tuple[str, ...]) -> tuple[Reading, ...]:
    # Cached on the strings: one patient's documents mostly spell the name the same few ways.
    return _readings(family, given, use=None, swap=True)


@lru_cache(maxsize=65536)
def record_readings(record: PatientRecord) -> tuple[Reading, ...]:
    """Every name of the record (official first), then married and maiden family names together.

    Cached on the frozen record: a patient's many documents normalise its names once."""
    chosen = RecordName(record.family, record.given)
    readings = list(_readings(chosen.family, chosen.given, use=None, swap=False))
    for other in record.other_names:
        # A FHIR nickname often gives only the given name, a maiden name only the family.
        filled = RecordName(other.family or chosen.family, other.given or chosen.given, other.use)
        readings += _readings(filled.family, filled.given, use=other.use or "other", swap=False)
    readings += _combined_family_names(record, readings[:1])
    return tuple(reading for reading in readings if reading.family or reading.given)


def _combined_family_names(record: PatientRecord, chosen: list[Reading]) -> list[Reading]:
    """Wyman Deckow, or Deckow-Wyman, for a record of Wyman (official) and Deckow (maiden)."""
    if not chosen or not chosen[0].family:
        return []
    official = chosen[0]
    combined = []
    for other in record.other_names:
        tokens = normalised_tokens(other.family or "")
        if tokens and not set(tokens) <= set(official.family):
            combined.append(
                Reading(
                    official.family + tokens,
                    official.given,
                    f"{official.family_shown} {other.family}",
                    official.given_shown,
                    use=f"official and {other.use or 'other'}",
                    other_script=official.other_script,
                )
            )
    return combined


def _readings(
    family: str | None, given: tuple[str, ...], *, use: str | None, swap: bool
) -> tuple[Reading, ...]:
    family_text, given_text = (family or "").strip(), " ".join(g.strip() for g in given)
    if "," in family_text:  # "Smith, John Q": the family name comes before the comma.
        family_text, _, rest = family_text.partition(",")
        family_text, given_text = family_text.strip(), f"{rest.strip()} {given_text}".strip()
    family_tokens, given_tokens = normalised_tokens(family_text), normalised_tokens(given_text)
    script = in_another_script(f"{family_text} {given_text}")
    as_written = Reading(family_tokens, given_tokens, family_text, given_text, use, script)
    if family_tokens and given_tokens:
        if not swap:
            return (as_written,)
        swapped = Reading(given_tokens, family_tokens, given_text, family_text, use, script)
        return (as_written, swapped)
    whole = family_tokens or given_tokens
    if len(whole) < 2:
        return (as_written,)
    # The whole name in one field: "John Q Smith" or "Smith John Q".
    return (
        Reading(whole[-1:], whole[:-1], whole[-1], " ".join(whole[:-1]), use, script),
        Reading(whole[:1], whole[1:], whole[0], " ".join(whole[1:]), use, script),
    )
