"""Thresholds for a target flag rate, from the reviewed history (pure; docs/contract.md#rule-sets).

The search tries every combination of a grid of min_confidence, few_resources_count,
few_resources_min_confidence and name_similarity_min (name_typo_min_length stays) and keeps,
among the sets whose flag rate on the history is within a quarter point of the target, the one
with the lowest estimated false-positive rate (domain/fp_estimate.py); sets within 0.2 points
of the lowest count as equal and the one closest to the current thresholds wins, so noise does
not move thresholds nobody needs to move. Flagging the target share with the fewest false
positives is flagging it with the most true problems.

Documents are summed into groups first: the movable rules compare confidence with grid values
only, so every confidence between two grid values behaves alike, and resource counts above the
grid's largest few_resources_count alike. A sweep over min_confidence per combination of the
rest then costs one pass over the groups.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from domain.fp_estimate import CaseFeatures, Estimate
from domain.thresholds import RuleThresholds

SEARCHED = (
    "min_confidence",
    "few_resources_count",
    "few_resources_min_confidence",
    "name_similarity_min",
)
TOLERANCE = 0.0025
EQUAL_FP = 0.005
# What a recommendation needs: reviewed flags in the history, and the share of the documents
# it would flag whose false-positive estimate rests on reviewed documents like them.
MIN_VERDICTS = 100
MIN_COVERAGE = 0.8


def _steps(low: float, high: float, step: float) -> tuple[float, ...]:
    count = round((high - low) / step)
    return tuple(round(low + i * step, 4) for i in range(count + 1))


@dataclass(frozen=True, slots=True)
class Grid:
    min_confidence: tuple[float, ...] = _steps(0.50, 0.99, 0.01)
    few_resources_count: tuple[int, ...] = (1, 2, 3, 4, 5)
    few_resources_min_confidence: tuple[float, ...] = _steps(0.80, 1.00, 0.01)
    name_similarity_min: tuple[float, ...] = _steps(60.0, 95.0, 5.0)

    def including(self, thresholds: RuleThresholds) -> Grid:
        """This grid with the values of `thresholds` added (the current set is a candidate)."""
        return Grid(
            *(tuple(sorted({*getattr(self, name), getattr(thresholds, name)})) for name in SEARCHED)
        )

    @property
    def confidences(self) -> tuple[float, ...]:
        return tuple(sorted({*self.min_confidence, *self.few_resources_min_confidence}))


@dataclass(slots=True)
class _Group:
    rank: int  # how many grid confidences are <= the documents' confidence
    count: int  # resource count, capped at the grid's largest few_resources_count
    fixed: bool
    names: tuple[bool, ...]
    documents: int = 0
    supported: int = 0
    false_positives: float = 0.0
    verdicts: int = 0
    problems: int = 0


@dataclass(frozen=True, slots=True)
class Totals:
    """A candidate's figures on the history: flagged documents, the false-positive estimate,
    and the true problems known from verdicts that it leaves unflagged."""

    thresholds: RuleThresholds
    documents: int
    estimate: Estimate
    missed_problems: int

    @property
    def flag_rate(self) -> float:
        return self.estimate.flagged / self.documents if self.documents else 0.0


class _Space:
    """The grouped history and the grid, to total any candidate of the grid."""

    def __init__(self, features: Sequence[CaseFeatures], grid: Grid) -> None:
        self.grid = grid
        self.confidences = grid.confidences
        self.documents = len(features)
        cap = max(grid.few_resources_count)
        groups: dict[tuple[int, int, bool, tuple[bool, ...]], _Group] = {}
        for f in features:
            key = (bisect_right(self.confidences, f.confidence), min(f.resource_count, cap))
            full = (*key, f.fixed, f.name_mismatch)
            group = groups.get(full)
            if group is None:
                group = groups[full] = _Group(*full)
            group.documents += 1
            group.problems += f.known_problem
            if f.estimate is not None:
                group.supported += 1
                group.false_positives += f.estimate
                group.verdicts += f.own_verdict
        self.groups = list(groups.values())
        self.problems = sum(g.problems for g in self.groups)

    def _index(self, value: float) -> int:
        return self.confidences.index(value)

    def totals(self, thresholds: RuleThresholds) -> Totals:
        names = self.grid.name_similarity_min.index(thresholds.name_similarity_min)
        low = self._index(thresholds.min_confidence)
        few = self._index(thresholds.few_resources_min_confidence)
        flagged = [
            g
            for g in self.groups
            if g.fixed
            or g.rank <= low
            or (g.count < thresholds.few_resources_count and g.rank <= few)
            or g.names[names]
        ]
        return self._totals(thresholds, flagged)

    def _totals(self, thresholds: RuleThresholds, flagged: Sequence[_Group]) -> Totals:
        estimate = Estimate(
            flagged=sum(g.documents for g in flagged),
            supported=sum(g.supported for g in flagged),
            false_positives=sum(g.false_positives for g in flagged),
            verdicts=sum(g.verdicts for g in flagged),
        )
        caught = sum(g.problems for g in flagged)
        return Totals(thresholds, self.documents, estimate, self.problems - caught)

    def candidates(self, base: RuleThresholds) -> Iterator[Totals]:
        """Every set of the grid, totalled (min_confidence swept per combination of the rest)."""
        grid = self.grid
        for count in grid.few_resources_count:
            for few_confidence in grid.few_resources_min_confidence:
                few = self._index(few_confidence)
                for n, similarity in enumerate(grid.name_similarity_min):
                    flagged: list[_Group] = []
                    rest: list[_Group] = []
                    for g in self.groups:
                        always = g.fixed or g.names[n] or (g.count < count and g.rank <= few)
                        (flagged if always else rest).append(g)
                    rest.sort(key=lambda g: g.rank)
                    taken = 0
                    for confidence in grid.min_confidence:
                        low = self._index(confidence)
                        while taken < len(rest) and rest[taken].rank <= low:
                            flagged.append(rest[taken])
                            taken += 1
                        yield self._totals(
                            base.model_copy(
                                update={
                                    "min_confidence": confidence,
                                    "few_resources_count": count,
                                    "few_resources_min_confidence": few_confidence,
                                    "name_similarity_min": similarity,
                                }
                            ),
                            flagged,
                        )


@dataclass(frozen=True, slots=True)
class Tradeoff:
    """Flag rate and estimated false-positive rate against one threshold, the others held at
    the proposed (else current) values; for the console's plot."""

    threshold: str
    values: tuple[float, ...]
    flag_rates: tuple[float, ...]
    false_positive_rates: tuple[float | None, ...]
    current: float
    proposed: float | None


@dataclass(frozen=True, slots=True)
class Recommendation:
    target: float
    max_false_positive: float | None
    current: Totals
    # None when the history does not support any proposal (`problems` says why).
    proposed: Totals | None
    verdicts: int
    problems: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    tradeoffs: tuple[Tradeoff, ...] = field(default_factory=tuple)


def _distance(a: RuleThresholds, b: RuleThresholds, grid: Grid) -> float:
    """How far apart two sets are, each threshold in units of its grid's range."""
    total = 0.0
    for name in SEARCHED:
        values = getattr(grid, name)
        span = (max(values) - min(values)) or 1
        total += abs(getattr(a, name) - getattr(b, name)) / span
    return total


def recommend(
    features: Sequence[CaseFeatures],
    current: RuleThresholds,
    *,
    target: float,
    max_false_positive: float | None = None,
    grid: Grid | None = None,
) -> Recommendation:
    grid = (grid or Grid()).including(current)
    space = _Space(features, grid)
    now = space.totals(current)
    verdicts = sum(f.own_verdict for f in features)
    problems: list[str] = []
    notes: list[str] = []
    if verdicts < MIN_VERDICTS:
        problems.append(
            f"only {verdicts} reviewed documents in this history: a recommendation needs at "
            f"least {MIN_VERDICTS} verdicts (mark correct, correct data, remove) to go on"
        )
        return Recommendation(
            target,
            max_false_positive,
            now,
            None,
            verdicts,
            tuple(problems),
            tradeoffs=tradeoffs(space, current, None),
        )
    near: list[Totals] = []
    closest: Totals | None = None
    for totals in space.candidates(current):
        gap = abs(totals.flag_rate - target)
        if closest is None or gap < abs(closest.flag_rate - target):
            closest = totals
        if gap <= TOLERANCE:
            near.append(totals)
    if not near and closest is not None:
        notes.append(
            f"no set of the grid flags {target:.1%} of this history; the closest flags "
            f"{closest.flag_rate:.1%}"
        )
        near = [closest]
    supported = [t for t in near if t.estimate.coverage >= MIN_COVERAGE]
    if not supported:
        best = max(near, key=lambda t: t.estimate.coverage)
        problems.append(
            f"every set that flags about {target:.0%} would flag documents unlike any reviewed "
            f"one: at best {best.estimate.coverage:.0%} of what it flags is like reviewed "
            f"documents, {MIN_COVERAGE:.0%} is needed. Review more of what is auto-approved "
            "near the thresholds, or run a more cautious rule set for a while"
        )
        return Recommendation(
            target,
            max_false_positive,
            now,
            None,
            verdicts,
            tuple(problems),
            tuple(notes),
            tradeoffs(space, current, None),
        )
    chosen = _choose(supported, target, current, grid, max_false_positive, notes)
    return Recommendation(
        target,
        max_false_positive,
        now,
        chosen,
        verdicts,
        tuple(problems),
        tuple(notes),
        tradeoffs(space, current, chosen.thresholds),
    )


def _choose(
    candidates: Sequence[Totals],
    target: float,
    current: RuleThresholds,
    grid: Grid,
    max_false_positive: float | None,
    notes: list[str],
) -> Totals:
    def rate(t: Totals) -> float:
        return t.estimate.rate if t.estimate.rate is not None else 1.0

    lowest = min(rate(t) for t in candidates)
    if max_false_positive is not None and lowest > max_false_positive:
        notes.append(
            f"no set at this flag rate keeps false positives at or below "
            f"{max_false_positive:.0%}: the lowest estimate is {lowest:.1%}"
        )
    equal = [t for t in candidates if rate(t) <= lowest + EQUAL_FP]
    return min(
        equal,
        key=lambda t: (
            round(abs(t.flag_rate - target), 3),
            _distance(t.thresholds, current, grid),
            rate(t),
        ),
    )


def tradeoffs(
    space: _Space, current: RuleThresholds, proposed: RuleThresholds | None
) -> tuple[Tradeoff, ...]:
    held = proposed or current
    curves = []
    for name in SEARCHED:
        values = tuple(getattr(space.grid, name))
        points = [space.totals(held.model_copy(update={name: value})) for value in values]
        curves.append(
            Tradeoff(
                threshold=name,
                values=tuple(float(v) for v in values),
                flag_rates=tuple(p.flag_rate for p in points),
                false_positive_rates=tuple(p.estimate.rate for p in points),
                current=float(getattr(current, name)),
                proposed=float(getattr(proposed, name)) if proposed is not None else None,
            )
        )
    return tuple(curves)


def tradeoff_curves(
    features: Sequence[CaseFeatures],
    current: RuleThresholds,
    proposed: RuleThresholds | None = None,
    grid: Grid | None = None,
) -> tuple[Tradeoff, ...]:
    base = (grid or Grid()).including(current)
    if proposed is not None:
        base = base.including(proposed)
    return tradeoffs(_Space(features, base), current, proposed)


def totals_at(features: Sequence[CaseFeatures], thresholds: RuleThresholds, grid: Grid) -> Totals:
    """One set's totals by the search's shortcut (its values must be on the grid)."""
    return _Space(features, grid).totals(thresholds)
