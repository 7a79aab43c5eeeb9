"""Does the name on a document belong to the patient record? Normalise, then compare fuzzily.

Normalising drops what differs between honest spellings of one name: case, accents (José/Jose,
Søren/Soren, Straße/Strasse), punctuation, hyphens and apostrophes (O'Brien/OBrien), Synthea's
digits (Alejandro190), honorifics (Mr., Dr., Jr., M.D.). Comparing then tolerates "Family, Given"
written in one string, family and given swapped, and middle names or initials present or absent.
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz

from domain.patients import PatientRecord
from schemas import HumanName

# Prefixes, then suffixes; nothing that is also a common name (Don, Do, V).
_HONORIFICS = frozenset(
    {"mr", "mrs", "ms", "miss", "mx", "master", "dr", "prof", "sir", "dame", "rev", "fr", "mme"}
    | {"mlle", "jr", "jnr", "sr", "snr", "ii", "iii", "iv", "md", "phd", "dds", "esq", "rn"}
)
# Letters NFKD does not decompose into a base letter plus an accent.
_LETTER_SPELLINGS = {"ø": "o", "æ": "ae", "œ": "oe", "þ": "th", "ł": "l", "ı": "i"}
_LETTER_SPELLINGS |= dict.fromkeys("ðđ", "d")
_APOSTROPHES = "'’‘ʼ`´"
_HYPHENS = "‐‑‒–—―"
# Built once: str.translate beats a regex here, and nothing compiles in the hot path.
_FOLD_TABLE = str.maketrans(
    {
        **_LETTER_SPELLINGS,
        **dict.fromkeys(_APOSTROPHES + string.digits),
        **dict.fromkeys(string.punctuation.replace(".", "").replace("'", "").replace("`", ""), " "),
        **dict.fromkeys(_HYPHENS, " "),
    }
)


@dataclass(frozen=True, slots=True)
class NameComparison:
    """How well two names agree, 0..100.

    `score` is the best over the plausible readings (so a swapped order costs nothing); the part
    scores are those of the name as written, which is what a reviewer looks at.
    """

    score: float
    family_score: float | None
    given_score: float | None


@dataclass(frozen=True, slots=True)
class _Reading:
    """One way of reading a written name into normalised family and given tokens."""

    family: tuple[str, ...]
    given: tuple[str, ...]


def name_similarity(document_name: HumanName | None, record: PatientRecord) -> float:
    """Similarity 0..100 of the document's name to the record's.

    100.0 when there is nothing to compare (the document or the record has no name): the
    name rule does not fire on a name nobody wrote down.
    """
    comparison = compare_names(document_name, record)
    return 100.0 if comparison is None else comparison.score


def compare_names(document_name: HumanName | None, record: PatientRecord) -> NameComparison | None:
    """The best agreement over the plausible readings of both names; None if nothing to compare."""
    if document_name is None:
        return None
    document_readings = _readings(document_name.family, tuple(document_name.given), swap=True)
    pairs = [(d, r) for d in document_readings for r in _record_readings(record)]
    as_written = _part_scores(*pairs[0])
    scores = [_score(*as_written)]
    if scores[0] != 100.0:  # Most documents agree as written; no other reading can beat that.
        scores += [_score(*_part_scores(d, r)) for d, r in pairs[1:]]
    best = max((score for score in scores if score is not None), default=None)
    return None if best is None else NameComparison(best, *as_written)


def describe_name_comparison(
    document_name: HumanName, record: PatientRecord, comparison: NameComparison, threshold: float
) -> str:
    """E.g. "Name on the document 'Jhon Smith' matches the record 'John Smith' at 75 %
    (threshold 80 %): the first given names differ"."""
    score, limit = _percentages(comparison.score, threshold)
    differing = [
        label
        for label, part_score in (
            ("family", comparison.family_score),
            ("first given", comparison.given_score),
        )
        if part_score is not None and part_score < threshold
    ]
    text = (
        f"Name on the document '{display_name(document_name.family, document_name.given)}' "
        f"matches the record '{display_name(record.family, record.given)}' at {score} % "
        f"(threshold {limit} %)"
    )
    return f"{text}: the {' and '.join(differing)} names differ" if differing else text


def display_name(family: str | None, given: Sequence[str]) -> str:
    return " ".join(part.strip() for part in (*given, family or "") if part.strip())


@lru_cache(maxsize=65536)
def normalised_tokens(text: str) -> tuple[str, ...]:
    """Lower-case, accent-free name tokens without honorifics or digits: "Mr. José-Luis
    O'Brien190" -> ("jose", "luis", "obrien"); dotted initials split: "J.Q." -> ("j", "q")."""
    folded = text.casefold().translate(_FOLD_TABLE)
    if not folded.isascii():
        decomposed = unicodedata.normalize("NFKD", folded)
        # Drop the accents, and treat any remaining symbol as a separator.
        folded = "".join(
            c if c.isalpha() or c == "." else " "
            for c in decomposed
            if not unicodedata.combining(c)
        )
    tokens: list[str] = []
    for word in folded.split():
        if word.replace(".", "") in _HONORIFICS:  # "M.D." as well as "MD"
            continue
        tokens.extend(part for part in word.split(".") if part)
    return tuple(tokens)


def _readings(family: str | None, given: tuple[str, ...], *, swap: bool) -> tuple[_Reading, ...]:
    """The as-written reading first; `swap` adds family and given the other way round (one
    side swapped is enough)."""
    family_text, given_text = family or "", " ".join(given)
    if "," in family_text:  # "Smith, John Q": the family name comes before the comma.
        family_text, _, rest = family_text.partition(",")
        given_text = f"{rest} {given_text}"
    family_tokens, given_tokens = normalised_tokens(family_text), normalised_tokens(given_text)
    as_written = _Reading(family_tokens, given_tokens)
    if family_tokens and given_tokens:
        return (as_written, _Reading(given_tokens, family_tokens)) if swap else (as_written,)
    whole = family_tokens or given_tokens
    if len(whole) < 2:
        return (as_written,)
    # The whole name in one field: "John Q Smith" or "Smith John Q".
    return (_Reading(whole[-1:], whole[:-1]), _Reading(whole[:1], whole[1:]))


@lru_cache(maxsize=65536)
def _record_readings(record: PatientRecord) -> tuple[_Reading, ...]:
    """Cached on the frozen record: a patient's many documents normalise its name once."""
    return _readings(record.family, record.given, swap=False)


def _part_scores(document: _Reading, record: _Reading) -> tuple[float | None, float | None]:
    return (
        _family_similarity(document.family, record.family),
        _given_similarity(document.given, record.given),
    )


def _score(family: float | None, given: float | None) -> float | None:
    # The weaker part decides, so a shared given name cannot hide another family name.
    parts = [part for part in (family, given) if part is not None]
    return min(parts) if parts else None


def _family_similarity(document: tuple[str, ...], record: tuple[str, ...]) -> float | None:
    if not document or not record:
        return None
    # token_set_ratio: order-free, and a dropped part of a compound name (Garcia Lopez vs
    # Garcia) still matches; ratio on the joined tokens: "De la Garza" is "Delagarza".
    return max(
        fuzz.token_set_ratio(" ".join(document), " ".join(record)),
        fuzz.ratio("".join(document), "".join(record)),
    )


def _given_similarity(document: tuple[str, ...], record: tuple[str, ...]) -> float | None:
    if not document or not record:
        return None
    # Only first given names: middle names and initials come and go between documents.
    first, other = document[0], record[0]
    if len(first) == 1 or len(other) == 1:
        return 100.0 if first[0] == other[0] else 0.0
    # Plain ratio (normalised Indel similarity): one typo in a short first name costs ~15 points.
    return fuzz.ratio(first, other)


def _percentages(score: float, threshold: float) -> tuple[str, str]:
    """Enough decimals that a score just below the threshold never prints as equal to it."""
    for decimals in range(4):
        shown, limit = f"{score:.{decimals}f}", f"{threshold:.{decimals}f}"
        if shown != limit or score == threshold:
            return shown, limit
    return repr(score), repr(threshold)
