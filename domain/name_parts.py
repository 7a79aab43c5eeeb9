"""How one part of a name (family, or first given) on a document compares with the record's.

Same name: exact, an initial, a nickname (Bill/William), a compound name in part or in another
order (Garcia/Garcia Lopez). A slip: one typing mistake in a name of some length (Alejnadro), or an
OCR confusion (rn/m, 0/O, 1/l/I) — a slip is forgiven only when the rest of the identity agrees,
which `domain.identity` decides. A slip that turns one real name into another (Alejandro/Alejandra,
Marie/Maria) is not a slip: it is another name. Anything else is similar or different by rapidfuzz.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import DamerauLevenshtein

from domain.nicknames import are_nicknames, is_known_name
from schemas import MatchKind

# What an OCR reads for what was printed, as pairs; the lower-case I has become i by now.
_OCR_CONFUSIONS: tuple[tuple[str, str], ...] = (
    *(("rn", "m"), ("cl", "d"), ("vv", "w")),
    *(("0", "o"), ("1", "l"), ("i", "l"), ("5", "s"), ("8", "b")),
)
_VOWELS = frozenset("aeiouy")
SAME_NAME = frozenset({MatchKind.EXACT, MatchKind.INITIAL, MatchKind.NICKNAME, MatchKind.COMPOUND})
# How close a same-name match is, to prefer the reading that explains the most.
_CLOSENESS = {
    MatchKind.EXACT: 3,
    MatchKind.COMPOUND: 1,
    MatchKind.NICKNAME: 1,
    MatchKind.INITIAL: 1,
}


@dataclass(frozen=True, slots=True)
class PartMatch:
    """`kind` compares the normalised tokens; `transliterated` says one side was written in
    another script; `score` is rapidfuzz's similarity 0..100 (100 for a same-name kind)."""

    kind: MatchKind
    score: float
    detail: str | None = None
    transliterated: bool = False
    closeness: int = 0
    slip: bool = False  # one typing or OCR slip apart, forgivable or not

    @property
    def same_name(self) -> bool:
        return self.kind in SAME_NAME

    @property
    def how(self) -> MatchKind:
        agrees = self.same_name or self.kind in (MatchKind.TYPO, MatchKind.SIMILAR)
        return MatchKind.TRANSLITERATED if self.transliterated and agrees else self.kind


# Built once: most parts of most documents are one of these.
_PLAIN_SAME = {kind: PartMatch(kind, 100.0, closeness=_CLOSENESS[kind]) for kind in _CLOSENESS}


def compare_family(
    document: tuple[str, ...], record: tuple[str, ...], *, threshold: float, typo_min_length: int
) -> PartMatch | None:
    """None when either side has no family name."""
    if not document or not record:
        return None
    joined, record_joined = "".join(document), "".join(record)
    if document == record or joined == record_joined:  # "De la Garza" is "Delagarza"
        return _same(MatchKind.EXACT)
    if set(document) == set(record):
        return _same(MatchKind.COMPOUND, "the same names in another order", closeness=2)
    if set(document) < set(record):
        return _same(MatchKind.COMPOUND, "one part of the compound name")
    if set(record) < set(document):
        return _same(MatchKind.COMPOUND, "the record has one part of it")
    # token_set_ratio: a dropped or misspelt part of a compound name still scores high.
    score = max(fuzz.token_set_ratio(document, record), fuzz.ratio(joined, record_joined))
    return _slip_or_fuzzy(joined, record_joined, score, threshold, typo_min_length, given=False)


def compare_given(
    document: tuple[str, ...], record: tuple[str, ...], *, threshold: float, typo_min_length: int
) -> PartMatch | None:
    """First given names only: middle names and initials come and go between documents."""
    if not document or not record:
        return None
    first, other = document[0], record[0]
    if first == other or "".join(document) == "".join(record):  # "Xiao Ming" is "Xiaoming"
        return _same(MatchKind.EXACT)
    if len(first) == 1 or len(other) == 1:
        if first[0] == other[0]:
            return _same(MatchKind.INITIAL)
        return PartMatch(MatchKind.DIFFERENT, 0.0, "another initial")
    if are_nicknames(first, other):
        return _same(MatchKind.NICKNAME)
    # Plain ratio (normalised Indel similarity): one typo in a short first name costs ~15 points.
    score = fuzz.ratio(first, other)
    return _slip_or_fuzzy(first, other, score, threshold, typo_min_length, given=True)


def _same(kind: MatchKind, detail: str | None = None, *, closeness: int | None = None) -> PartMatch:
    if detail is None and closeness is None:
        return _PLAIN_SAME[kind]
    return PartMatch(
        kind, 100.0, detail, closeness=_CLOSENESS[kind] if closeness is None else closeness
    )


def _slip_or_fuzzy(
    document: str, record: str, score: float, threshold: float, typo_min_length: int, *, given: bool
) -> PartMatch:
    kind = MatchKind.SIMILAR if score >= threshold else MatchKind.DIFFERENT
    confusion = _ocr_confusion(document, record)
    slip = f"OCR confusion {confusion}" if confusion else _typing_slip(document, record)
    if slip is None:
        return PartMatch(kind, score)
    if (other_name := _another_name(document, record, given=given)) is not None:
        return PartMatch(kind, score, other_name)
    if confusion or min(len(document), len(record)) >= typo_min_length:
        return PartMatch(MatchKind.TYPO, score, slip, slip=True)
    # Jhon/John: a typo, or another name? Too short to tell; the similarity decides.
    return PartMatch(kind, score, f"{slip}, in a name too short to forgive it", slip=True)


def _typing_slip(document: str, record: str) -> str | None:
    """What one typing slip turns one spelling into the other, or None if it takes more."""
    if DamerauLevenshtein.distance(document, record, score_cutoff=1) > 1:
        return None
    if len(document) != len(record):
        return "one letter missing" if len(document) < len(record) else "one letter too many"
    swapped = sorted(document) == sorted(record)
    return "two letters swapped" if swapped else "one letter differs"


def _ocr_confusion(document: str, record: str) -> str | None:
    if _ocr_skeleton(document) != _ocr_skeleton(record):
        return None
    for printed, read in _OCR_CONFUSIONS:
        if (printed in document and read in record) or (read in document and printed in record):
            return f"{printed}/{read}"
    return "of look-alike letters"


@lru_cache(maxsize=65536)
def _ocr_skeleton(token: str) -> str:
    """The token with every look-alike folded onto one letter: "wyrnan" and "wyman" agree."""
    for printed, read in _OCR_CONFUSIONS:
        token = token.replace(printed, read)
    return token


def _another_name(document: str, record: str, *, given: bool) -> str | None:
    """Why a one-letter difference is another name rather than a slip, or None if it is not."""
    if _gendered_ending(document, record):
        return "another name: the ending differs"
    if given and is_known_name(document) and is_known_name(record):
        return "two different given names"
    return None


def _gendered_ending(first: str, second: str) -> bool:
    """Alejandro/Alejandra, Daniel/Daniela, Louis/Louise, Ivanov/Ivanova: a brother's name and a
    sister's (or a husband's and a wife's) differ in a final vowel."""
    shorter, longer = sorted((first, second), key=len)
    if len(longer) == len(shorter) + 1:
        return longer.startswith(shorter) and longer[-1] in _VOWELS
    return first[:-1] == second[:-1] and {first[-1], second[-1]} <= _VOWELS
