"""What a candidate threshold set's false-positive rate would be, estimated from the reviewed
history (pure; docs/contract.md#rule-sets).

Reviewers judge what the rules flagged, so a candidate that flags documents the rules of the day
auto-approved would be judged on documents nobody reviewed. Such a document borrows the verdicts
of reviewed ones like it: same rules that no threshold moves, resource count (0, 1-2, 3+),
name verdicts, confidence band (0.02 wide; 0.05 when the narrow band has too few). Only verdicts
on flagged documents are borrowed: a flag was reviewed whatever the truth, whereas a document
corrected after auto-approval was found because it was wrong. A document no band supports is
unsupported: the estimate leaves it out and says how much it left out (coverage).

Each document's estimate is fixed (its own verdict, or its stratum's rate), so the estimate of
any set of flags is a sum: the search (domain/recommend.py) adds them up per candidate.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domain.flag_rules import name_mismatch
from domain.patients import PatientRecord
from domain.replay import ReplayCase, Replayer
from domain.rule_sets import RuleSet
from domain.stats import wilson_interval
from domain.thresholds import RuleThresholds
from domain.verdicts import Label
from schemas import FlagRule

# The rules a threshold moves; every other rule fires or not whatever the thresholds.
MOVABLE = frozenset(
    {
        FlagRule.LOW_CONFIDENCE.value,
        FlagRule.FEW_RESOURCES_LOW_CONFIDENCE.value,
        FlagRule.NAME_MISMATCH.value,
    }
)
# Fewest borrowable verdicts for a stratum to speak for the documents in it.
MIN_STRATUM_VERDICTS = 8
_RANDOM_VERDICTS = frozenset({Label.FALSE_POSITIVE, Label.CORRECTED, Label.REMOVED})


@dataclass(frozen=True, slots=True)
class CaseFeatures:
    """What the search needs of one document: the inputs of the movable rules, whether an
    unmovable rule fires, and its estimate (1: flagging it is a false positive, 0: a true
    problem; None: unsupported)."""

    confidence: float
    resource_count: int
    fixed: bool
    # name_mismatch at each of the grid's name_similarity_min values (in the grid's order).
    name_mismatch: tuple[bool, ...]
    estimate: float | None
    own_verdict: bool
    known_problem: bool


NameCheck = Callable[[ReplayCase], tuple[bool, ...]]


def name_checker(base: RuleThresholds, similarities: Sequence[float]) -> NameCheck:
    """Whether name_mismatch fires on a case at each of `similarities` (as name_similarity_min;
    the other thresholds as `base`), remembered per patient part and record: a history has far
    fewer of those than documents."""
    variants = [base.model_copy(update={"name_similarity_min": s}) for s in similarities]
    seen: dict[tuple[str, str], tuple[PatientRecord | None, tuple[bool, ...]]] = {}

    def mismatches(case: ReplayCase) -> tuple[bool, ...]:
        result, record = case.result, case.record
        key = (result.patient_id, case.patient_text())
        found = seen.get(key)
        if found is not None and found[0] is record:
            return found[1]
        verdicts = tuple(name_mismatch(result, record, t) is not None for t in variants)
        seen[key] = (record, verdicts)
        return verdicts

    return mismatches


def _count_bucket(count: int) -> int:
    return 0 if count == 0 else 1 if count < 3 else 3


def features_of(
    cases: Sequence[ReplayCase], base: RuleThresholds, name_grid: Sequence[float]
) -> list[CaseFeatures]:
    """Every case's features and estimate (in the cases' order)."""
    check = name_checker(base, name_grid)
    replayer = Replayer(RuleSet(0, base))
    rows = []
    for case in cases:
        fixed = replayer.fired(case) - MOVABLE
        names = check(case)
        count = len(case.result.resources)
        shape = (fixed, _count_bucket(count), names)
        rows.append((case, fixed, names, count, shape))
    narrow: dict[tuple[object, ...], list[float]] = defaultdict(list)
    wide: dict[tuple[object, ...], list[float]] = defaultdict(list)
    for case, _, _, _, shape in rows:
        if case.label in _RANDOM_VERDICTS:
            fine = 0.0 if case.label.is_problem else 1.0
            narrow[(*shape, _band(case, 0.02))].append(fine)
            wide[(*shape, _band(case, 0.05))].append(fine)
    features = []
    for case, fixed, names, count, shape in rows:
        stratum = narrow.get((*shape, _band(case, 0.02)), [])
        if len(stratum) < MIN_STRATUM_VERDICTS:
            stratum = wide.get((*shape, _band(case, 0.05)), [])
        supported = len(stratum) >= MIN_STRATUM_VERDICTS
        label = case.label
        own = label is not None and label in _RANDOM_VERDICTS | {Label.CONFIRMED}
        estimate: float | None
        if own and label is not None:
            estimate = 0.0 if label.is_problem else 1.0
        elif label is not None and label.is_problem:
            estimate = 0.0 if supported else None
        else:
            estimate = sum(stratum) / len(stratum) if supported else None
        features.append(
            CaseFeatures(
                confidence=case.result.confidence,
                resource_count=count,
                fixed=bool(fixed),
                name_mismatch=names,
                estimate=estimate,
                own_verdict=own,
                known_problem=label is not None and label.is_problem,
            )
        )
    return features


def _band(case: ReplayCase, width: float) -> int:
    return int(case.result.confidence / width + 1e-9)


@dataclass(frozen=True, slots=True)
class Estimate:
    """The estimated false-positive rate of a set of flags, and what it rests on."""

    flagged: int
    supported: int
    false_positives: float
    verdicts: int

    @property
    def rate(self) -> float | None:
        return self.false_positives / self.supported if self.supported else None

    @property
    def coverage(self) -> float:
        return self.supported / self.flagged if self.flagged else 1.0

    @property
    def interval(self) -> tuple[float, float] | None:
        """Wilson's 95 % interval, as wide as the flagged documents' own verdicts make it
        (documents that borrow a verdict add no trial: conservative)."""
        if not self.supported:
            return None
        trials = max(1, self.verdicts)
        return wilson_interval(self.false_positives / self.supported * trials, trials)


def estimate_of(features: Sequence[CaseFeatures], flagged: Sequence[bool]) -> Estimate:
    count = supported = verdicts = 0
    false_positives = 0.0
    for feature, is_flagged in zip(features, flagged, strict=True):
        if not is_flagged:
            continue
        count += 1
        if feature.estimate is not None:
            supported += 1
            false_positives += feature.estimate
            verdicts += feature.own_verdict
    return Estimate(count, supported, false_positives, verdicts)
