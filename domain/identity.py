"""Is the name on a document the patient's? Flag rule 6 (docs/contract.md#flag-rules), with the
identity checks around it.

rapidfuzz's similarity against the threshold decides (the weaker of family and first given
name), once these are taken into account:
- the same name written another way counts as equal: an initial, a nickname (Bill/William), part
  of a compound name, another script (Иванов/Ivanov), any of the record's names (maiden, old...),
  or its married and maiden family names together;
- a slip (one typo in a name of five letters or more, an OCR confusion) counts as equal when the
  other name part is the same name and the full birth date agrees;
- another given name with the same family name and birth date is a sibling or a twin: a mismatch,
  however alike the names look (Alejandro/Alejandra, Marie/Maria).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from domain.birth_dates import BirthDateComparison
from domain.name_parts import PartMatch, compare_family, compare_given
from domain.names import Reading, display_name, document_readings, record_readings
from domain.patients import PatientRecord
from schemas import Evidence, HumanName, MatchKind
from schemas.events import IdentityPart

# FHIR HumanName.use as a reviewer says it.
_USE_WORDS = {"old": "former", "temp": "temporary"}


@dataclass(frozen=True, slots=True)
class NameVerdict:
    """The best agreement over the plausible readings of both names, and why."""

    matches: bool
    score: float  # the weaker part's similarity, 0..100, after the refinements above
    document: Reading
    record: Reading
    family: PartMatch | None
    given: PartMatch | None
    birth: BirthDateComparison | None
    forgiven: tuple[IdentityPart, ...] = ()  # the parts whose slip the rest of the identity excuses
    sibling: bool = False

    @property
    def _rank(self) -> tuple[bool, bool, float, float]:
        closeness = sum(part.closeness for part in (self.family, self.given) if part is not None)
        if self.matches:
            return True, False, self.score, closeness
        # Nothing matches: the reading that explains the most (a sibling, an exact part) is the
        # one to show, not a far-fetched one that happens to score a point more.
        return False, self.sibling, closeness, self.score


def judge_name(
    document_name: HumanName | None,
    record: PatientRecord,
    birth: BirthDateComparison | None,
    *,
    threshold: float,
    typo_min_length: int,
) -> NameVerdict | None:
    """None when there is nothing to compare: the document or the record gives no name."""
    if document_name is None:
        return None
    best: NameVerdict | None = None
    for document in document_readings(document_name):
        for recorded in record_readings(record):
            verdict = _judge(document, recorded, birth, threshold, typo_min_length)
            if verdict is None or (best is not None and verdict._rank <= best._rank):
                continue
            best = verdict
            if (
                best.matches
                and best.score == 100.0
                and all(p is None or p.kind == MatchKind.EXACT for p in (best.family, best.given))
            ):
                return best  # Most documents agree as written: no other reading can do better.
    return best


def _judge(
    document: Reading,
    record: Reading,
    birth: BirthDateComparison | None,
    threshold: float,
    typo_min_length: int,
) -> NameVerdict | None:
    family = compare_family(
        document.family, record.family, threshold=threshold, typo_min_length=typo_min_length
    )
    given = compare_given(
        document.given, record.given, threshold=threshold, typo_min_length=typo_min_length
    )
    if family is None and given is None:
        return None
    if document.other_script or record.other_script:
        family, given = _transliterated(family), _transliterated(given)
    # A slip is excused only by the rest of the identity: the other part and the full birth date.
    vouched = birth is not None and birth.agrees_to_the_day
    pairs: tuple[tuple[IdentityPart, PartMatch | None, PartMatch | None], ...] = (
        ("family", family, given),
        ("given", given, family),
    )
    forgiven = tuple(
        label
        for label, part, other in pairs
        if part is not None
        and part.kind == MatchKind.TYPO
        and vouched
        and other is not None
        and other.same_name
    )
    family_score = _effective_score(family, "family" in forgiven)
    given_score = _effective_score(given, "given" in forgiven)
    score = min(s for s in (family_score, given_score) if s is not None)
    family_agrees = family_score is not None and family_score >= threshold
    sibling = (
        birth is not None
        and birth.agrees
        and family_agrees
        and given is not None
        and given.kind in (MatchKind.SIMILAR, MatchKind.DIFFERENT)
        and not given.slip
    )
    return NameVerdict(
        matches=score >= threshold and not sibling,
        score=score,
        document=document,
        record=record,
        family=family,
        given=given,
        birth=birth,
        forgiven=forgiven,
        sibling=sibling,
    )


def _transliterated(part: PartMatch | None) -> PartMatch | None:
    return None if part is None else replace(part, transliterated=True)


def _effective_score(part: PartMatch | None, forgiven: bool) -> float | None:
    if part is None:
        return None
    return 100.0 if part.same_name or forgiven else part.score


def describe_name_verdict(
    document_name: HumanName, record: PatientRecord, verdict: NameVerdict, threshold: float
) -> str:
    """E.g. "Name on the document 'Jhon Smith' matches the record 'John Smith' at 75 %
    (threshold 80 %): the first given names differ"."""
    score, limit = _percentages(verdict.score, threshold)
    text = (
        f"Name on the document '{display_name(document_name.family, document_name.given)}' "
        f"matches the record '{_record_shown(record, verdict.record)}' at {score} % "
        f"(threshold {limit} %)"
    )
    if verdict.sibling:
        return (
            f"{text}, but the first given names differ while the family name and birth date "
            "agree: a sibling or a twin?"
        )
    differing = [
        label
        for label, part in (("family", verdict.family), ("first given", verdict.given))
        if part is not None and not part.same_name and part.score < threshold
    ]
    return f"{text}: the {' and '.join(differing)} names differ" if differing else text


def name_evidence(verdict: NameVerdict) -> tuple[Evidence, ...]:
    """Which parts matched how, for the reviewer; the birth date when it decided the outcome."""
    items = [
        _part_evidence(
            "family",
            verdict.document.family_shown,
            verdict.record.family_shown,
            verdict.family,
            verdict,
        ),
        _part_evidence(
            "given",
            verdict.document.given_shown,
            verdict.record.given_shown,
            verdict.given,
            verdict,
        ),
    ]
    slipped = any(
        p is not None and p.kind == MatchKind.TYPO for p in (verdict.family, verdict.given)
    )
    if verdict.birth is not None and (verdict.sibling or slipped):
        items.append(birth_date_evidence(verdict.birth))
    return tuple(items)


def birth_date_evidence(birth: BirthDateComparison) -> Evidence:
    return Evidence(
        part="birth_date",
        document=str(birth.document),
        record=str(birth.record),
        how=birth.how,
        detail=None if birth.how == MatchKind.EXACT else birth.explanation,
    )


def _part_evidence(
    label: IdentityPart,
    document: str,
    record: str,
    part: PartMatch | None,
    verdict: NameVerdict,
) -> Evidence:
    if part is None:
        return Evidence(
            part=label, document=document or None, record=record or None, how=MatchKind.MISSING
        )
    details = [part.detail] if part.detail else []
    if part.transliterated:
        details.append("written in another script")
    if part.kind == MatchKind.TYPO:
        details.append(
            "forgiven: the rest of the identity agrees"
            if label in verdict.forgiven
            else "not forgiven: the other name part and the full birth date must agree"
        )
    if verdict.sibling and label == "given":
        details.append("same family name and birth date: a sibling or a twin?")
    if verdict.record.use:
        details.append(f"the record's {_use_phrase(verdict.record.use)}")
    return Evidence(
        part=label,
        document=document,
        record=record,
        how=part.how,
        score=round(part.score, 1),
        detail="; ".join(details) or None,
    )


def _record_shown(record: PatientRecord, reading: Reading) -> str:
    if reading.use is None:
        return display_name(record.family, record.given)
    return f"{reading.shown} ({_use_phrase(reading.use)})"


def _use_phrase(use: str) -> str:
    """FHIR HumanName.use as a reviewer says it: "maiden name", "former name"."""
    if use.startswith("official and "):
        other = use.removeprefix("official and ")
        return f"official and {_USE_WORDS.get(other, other)} names together"
    return "nickname" if use == "nickname" else f"{_USE_WORDS.get(use, use)} name"


def _percentages(score: float, threshold: float) -> tuple[str, str]:
    """Enough decimals that a score just below the threshold never prints as equal to it."""
    for decimals in range(4):
        shown, limit = f"{score:.{decimals}f}", f"{threshold:.{decimals}f}"
        if shown != limit or score == threshold:
            return shown, limit
    return repr(score), repr(threshold)
